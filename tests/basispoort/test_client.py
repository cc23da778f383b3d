"""BasispoortClient over real HTTPS against the simulator: mTLS, every endpoint, retries, errors."""

from __future__ import annotations

import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import serialization

from core.errors import ConfigError, SourceDataError, SourceRefused, SourceUnavailable
from plugins.basispoort.client import (
    BasispoortClient,
    InvalidSchoolId,
    NoConsent,
    NotFound,
    ResponseTooLarge,
)
from plugins.basispoort.settings import BasispoortSettings, load_basispoort_settings
from plugins.basispoort.simulator import SimulatorServer, TLSFiles, World
from plugins.basispoort.simulator.faults import gzip_bomb

API = "/rest/v2/instellingen"
RETRIES = 2


def settings_for(server: SimulatorServer, pki: TLSFiles, **changes: object) -> BasispoortSettings:
    values: dict[str, object] = {
        "url": server.url,
        "cert": pki.client,
        "ca": pki.ca,
        "retries": RETRIES,
        "backoff": 0.001,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    values.update(changes)
    return BasispoortSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def client(sim_server: SimulatorServer, sim_pki: TLSFiles) -> Iterator[BasispoortClient]:
    with BasispoortClient(settings_for(sim_server, sim_pki)) as c:
        yield c


def school(world: World, kind: str) -> str:
    return str(world.find(kind))


# -- configuration --------------------------------------------------------------------------------


def test_neither_env_nor_url_names_both_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("ENV", "URL"):
        monkeypatch.delenv(f"KOPPEL_BASISPOORT_{var}", raising=False)
    with pytest.raises(ConfigError, match=r"KOPPEL_BASISPOORT_ENV .* or KOPPEL_BASISPOORT_URL"):
        BasispoortClient(BasispoortSettings())


def test_env_picks_the_documented_base_url_and_url_wins() -> None:
    acceptance = BasispoortSettings(env="acceptance")
    assert acceptance.base_url() == "https://acceptatie-rest.basispoort.nl/"
    assert BasispoortSettings(env="production").base_url() == "https://rest.basispoort.nl/"
    both = BasispoortSettings(env="production", url="https://127.0.0.1:8443")
    assert both.base_url() == "https://127.0.0.1:8443/"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_BASISPOORT_ENV", "staging")
    monkeypatch.setenv("KOPPEL_BASISPOORT_RETRIES", "2")
    monkeypatch.setenv("KOPPEL_BASISPOORT_IPADRESSEN", "true")
    settings = load_basispoort_settings()
    assert settings.base_url() == "https://staging-rest.basispoort.nl/"
    assert (settings.retries, settings.ipadressen) == (2, True)
    assert (settings.connect_timeout, settings.read_timeout, settings.backoff) == (10, 120, 0.5)


def test_an_invalid_value_is_one_readable_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_BASISPOORT_ENV", "prod")
    with pytest.raises(ConfigError, match="KOPPEL_BASISPOORT_ENV"):
        load_basispoort_settings()


def test_https_without_a_client_certificate_is_refused_before_connecting(
    sim_server: SimulatorServer, sim_pki: TLSFiles
) -> None:
    with pytest.raises(ConfigError, match="set KOPPEL_BASISPOORT_CERT"):
        BasispoortClient(settings_for(sim_server, sim_pki, cert=None))
    assert sim_server.failed_handshakes == 0 and not sim_server.hits


def test_a_missing_or_directory_certificate(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        BasispoortClient(BasispoortSettings(env="test", cert=tmp_path / "nope.pem"))
    with pytest.raises(ConfigError, match="is a directory"):
        BasispoortClient(BasispoortSettings(env="test", cert=tmp_path))


def test_a_certificate_without_its_key(tmp_path: Path, sim_pki: TLSFiles) -> None:
    pem = tmp_path / "only-cert.pem"
    pem.write_text(sim_pki.ca.read_text())
    with pytest.raises(ConfigError, match="no private key") as caught:
        BasispoortClient(BasispoortSettings(env="test", cert=pem))
    assert "BEGIN" not in str(caught.value)  # never the certificate itself


def _split_pem(path: Path) -> tuple[str, str]:
    text = path.read_text()
    end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
    return text[:end], text[end:]


def test_a_key_that_is_not_the_certificates(tmp_path: Path, sim_pki: TLSFiles) -> None:
    cert, _ = _split_pem(sim_pki.client)
    _, stranger_key = _split_pem(sim_pki.untrusted_client)
    pem = tmp_path / "mismatch.pem"
    pem.write_text(cert + stranger_key)
    with pytest.raises(ConfigError, match="cannot be used together"):
        BasispoortClient(BasispoortSettings(env="test", cert=pem, ca=sim_pki.ca))


def test_an_encrypted_key_fails_instead_of_prompting(tmp_path: Path, sim_pki: TLSFiles) -> None:
    cert, key = _split_pem(sim_pki.client)
    private = serialization.load_pem_private_key(key.encode(), password=None)
    locked = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    pem = tmp_path / "locked.pem"
    pem.write_text(cert + locked.decode())
    with pytest.raises(ConfigError, match="cannot be used together"):
        BasispoortClient(BasispoortSettings(env="test", cert=pem, ca=sim_pki.ca))


def test_a_missing_ca_bundle(tmp_path: Path, sim_pki: TLSFiles) -> None:
    with pytest.raises(ConfigError, match="KOPPEL_BASISPOORT_CA"):
        BasispoortClient(BasispoortSettings(env="test", cert=sim_pki.client, ca=tmp_path / "x"))


# -- mutual TLS -----------------------------------------------------------------------------------


def test_mutual_tls_succeeds_with_our_certificate(
    client: BasispoortClient, sim_world: World
) -> None:
    assert client.instellingen() == tuple(str(i) for i in sim_world.visible_ids())


def test_a_certificate_the_server_does_not_trust_is_refused_without_retry(
    sim_server: SimulatorServer, sim_pki: TLSFiles
) -> None:
    slept: list[float] = []
    settings = settings_for(sim_server, sim_pki, cert=sim_pki.untrusted_client)
    with (
        BasispoortClient(settings, sleep=slept.append) as stranger,
        pytest.raises(SourceRefused, match="TLS"),
    ):
        stranger.instellingen()
    assert slept == []  # no second attempt
    # The server counts the failed handshake in its own thread, possibly after we return.
    deadline = time.monotonic() + 5
    while sim_server.failed_handshakes == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim_server.failed_handshakes == 1
    assert not sim_server.hits


def test_a_server_we_do_not_trust_is_refused(
    sim_server: SimulatorServer, sim_pki: TLSFiles
) -> None:
    # Without the test CA the system trust store is used, which does not know the simulator.
    settings = settings_for(sim_server, sim_pki, ca=None)
    with BasispoortClient(settings) as c, pytest.raises(SourceRefused, match="VERIFY_FAILED"):
        c.instellingen()
    assert not sim_server.hits


def test_plain_http_needs_no_certificate(sim_http_server: SimulatorServer) -> None:
    settings = BasispoortSettings(url=sim_http_server.url, retries=0)
    with BasispoortClient(settings) as c:
        assert c.instellingen() == tuple(str(i) for i in sim_http_server.world.visible_ids())


class _ForwardingProxy(BaseHTTPRequestHandler):
    """An HTTP proxy for plain-HTTP GETs: records the absolute URL asked for, relays the answer."""

    asked: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.asked.append(self.path)
        answer = httpx.get(self.path, trust_env=False)
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers["Content-Type"])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_configured_proxy_carries_the_requests(
    sim_http_server: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ForwardingProxy, "asked", [])
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ForwardingProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    settings = BasispoortSettings(
        url=sim_http_server.url, proxy=f"http://127.0.0.1:{proxy.server_port}", retries=0
    )
    try:
        with BasispoortClient(settings) as c:
            assert c.instellingen() == tuple(str(i) for i in sim_http_server.world.visible_ids())
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert _ForwardingProxy.asked == [sim_http_server.url.rstrip("/") + API]


def test_a_proxy_must_be_an_http_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOPPEL_BASISPOORT_PROXY", "socks5://127.0.0.1:1080")
    with pytest.raises(ConfigError, match="KOPPEL_BASISPOORT_PROXY"):
        load_basispoort_settings()


# -- endpoints ------------------------------------------------------------------------------------


def test_school_endpoints_return_what_the_simulator_serves(
    client: BasispoortClient, sim_world: World
) -> None:
    sid = school(sim_world, "consented")
    n = int(sid)
    assert client.overview(sid) == sim_world.overview(n)
    assert client.details(sid) == sim_world.details(n)
    assert client.groepen(sid) == sim_world.groepen(n)
    assert client.leerlingen(sid) == sim_world.leerlingen(n)
    assert client.staf(sid) == sim_world.staf(n)
    assert client.ref(sid) == sim_world.ref(n)
    assert client.ipadressen(sid) == sim_world.ipadressen(n)


def test_the_largest_school_is_stream_parsed_whole(
    client: BasispoortClient, sim_world: World
) -> None:
    sid = school(sim_world, "largest")
    doc = client.leerlingen(sid)
    assert doc == sim_world.leerlingen(int(sid))
    assert len(doc["leerlingen"]) == len(sim_world.pupil_ids(int(sid))) >= 100


def test_pupils_by_ids_and_by_eckids(client: BasispoortClient, sim_world: World) -> None:
    sid = school(sim_world, "consented")
    everyone = sim_world.leerlingen(int(sid))["leerlingen"]
    some = everyone[:3]
    by_id = client.leerlingen_by_ids(sid, [p["id"] for p in some])
    assert [p["id"] for p in by_id["leerlingen"]] == [p["id"] for p in some]
    with_eckid = [p for p in everyone if p.get("eckid")][:2]
    by_eckid = client.leerlingen_by_eckids(sid, [p["eckid"] for p in with_eckid])
    assert [p["id"] for p in by_eckid["leerlingen"]] == [p["id"] for p in with_eckid]


def test_permission_read_never_asks_the_school(client: BasispoortClient, sim_world: World) -> None:
    assert client.synchronization_permission(school(sim_world, "consented")) is True
    refuser = sim_world.find("no_consent")
    assert client.synchronization_permission(str(refuser)) is False
    assert sim_world.school(refuser).permission_requested is False


def test_giving_up_permission_shows_in_the_revoked_list(
    client: BasispoortClient, sim_world: World
) -> None:
    sid = school(sim_world, "consented")
    assert sid not in client.ingetrokken(sim_world.today)
    client.give_up_synchronization_permission(sid)
    assert client.synchronization_permission(sid) is False
    assert sid in client.ingetrokken(sim_world.today)


def test_granted_list_per_day(client: BasispoortClient, sim_world: World) -> None:
    refuser = sim_world.find("no_consent")
    sim_world.set_consent(refuser, True)
    assert str(refuser) in client.toegekend(sim_world.today)
    header = sim_world.school(sim_world.find("consented"))
    assert header.granted_on is not None
    assert str(header.id) in client.toegekend(header.granted_on)


def recorded(client: BasispoortClient, monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    """Every request the client hands its transport from now on."""
    sent: list[httpx.Request] = []
    send = client._transport.handle_request

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return send(request)

    monkeypatch.setattr(client._transport, "handle_request", record)
    return sent


def test_every_request_asks_for_json_names_koppel_and_carries_the_timeouts(
    client: BasispoortClient, sim_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = recorded(client, monkeypatch)
    client.details(school(sim_world, "consented"))
    client.leerlingen_by_ids(school(sim_world, "consented"), [1])
    for request in sent:
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"].startswith("koppel")
        assert request.extensions["timeout"] == {
            "connect": 2.0,
            "read": 5.0,
            "write": 2.0,
            "pool": 2.0,
        }
    assert sent[-1].method == "POST" and sent[-1].content == b"[1]"


def test_nawsearch_sends_only_the_parameters_given(
    client: BasispoortClient, sim_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = recorded(client, monkeypatch)
    second = sim_world.school(sim_world.find("second_location"))
    found = client.nawsearch(brincode=second.brin)
    assert {r["brincode"] for r in found} >= {second.brin + "00", second.brin6}
    assert dict(sent[-1].url.params) == {"brincode": second.brin}
    exact = client.nawsearch(brincode=second.brin6, active_only=False)
    assert [r["id"] for r in exact] == [second.id]
    assert dict(sent[-1].url.params) == {"brincode": second.brin6, "activeOnly": "false"}
    inactive = sim_world.school(sim_world.find("inactive"))
    assert client.nawsearch(brincode=inactive.brin6, active_only=True) == []
    assert client.nawsearch(naam="no school is called this") == []


def test_a_school_id_must_be_a_number(client: BasispoortClient) -> None:
    with pytest.raises(InvalidSchoolId):
        client.details("../nawsearch")


# -- status codes ---------------------------------------------------------------------------------


def test_404_is_not_found_and_not_retried(
    client: BasispoortClient, sim_server: SimulatorServer
) -> None:
    with pytest.raises(NotFound, match=r"GET rest/v2/instellingen/999/details answered 404"):
        client.details("999")
    assert sim_server.hits[f"GET {API}/999/details"] == 1


def test_403_on_data_is_no_consent_and_not_retried(
    client: BasispoortClient, sim_server: SimulatorServer, sim_world: World
) -> None:
    sid = school(sim_world, "no_consent")
    with pytest.raises(NoConsent) as caught:
        client.leerlingen(sid)
    assert isinstance(caught.value, SourceRefused)
    assert f"instellingen/{sid}/leerlingen answered 403" in str(caught.value)
    assert "toestemming" not in str(caught.value).split("(")[0]  # the body is not quoted
    assert sim_server.hits[f"GET {API}/{sid}/leerlingen"] == 1


def test_the_ipadressen_endpoint_switched_off_is_not_found(
    sim_world: World, sim_pki: TLSFiles
) -> None:
    with (
        SimulatorServer(sim_world, tls=sim_pki, ipadressen=False) as server,
        BasispoortClient(settings_for(server, sim_pki)) as c,
        pytest.raises(NotFound),
    ):
        c.ipadressen(school(sim_world, "consented"))


# -- retries and transient failures ---------------------------------------------------------------


def test_a_transient_5xx_is_retried_then_succeeds(
    client: BasispoortClient, sim_server: SimulatorServer, sim_world: World
) -> None:
    sid = school(sim_world, "consented")
    sim_server.faults.add(r"/groepen$", "5xx", times=RETRIES)
    assert client.groepen(sid) == sim_world.groepen(int(sid))
    assert sim_server.hits[f"GET {API}/{sid}/groepen"] == RETRIES + 1


def test_a_lasting_5xx_is_unavailable_after_the_retries(
    client: BasispoortClient, sim_server: SimulatorServer, sim_world: World
) -> None:
    sid = school(sim_world, "consented")
    sim_server.faults.add(r"/staf$", "5xx", times=RETRIES + 5)
    with pytest.raises(SourceUnavailable, match=r"answered 503 \(3 attempts\)"):
        client.staf(sid)
    assert sim_server.hits[f"GET {API}/{sid}/staf"] == RETRIES + 1


def test_backoff_grows_exponentially_with_jitter(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World
) -> None:
    slept: list[float] = []
    settings = settings_for(sim_server, sim_pki, retries=3, backoff=0.5)
    sim_server.faults.add(r"/details$", "5xx", times=3)
    with BasispoortClient(settings, sleep=slept.append) as c:
        c.details(school(sim_world, "consented"))
    assert len(slept) == 3
    for attempt, delay in enumerate(slept):
        assert 0.5 * 2**attempt * 0.5 <= delay <= 0.5 * 2**attempt


def test_a_slow_answer_times_out_then_the_retry_succeeds(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World
) -> None:
    sid = school(sim_world, "consented")
    sim_server.faults.add(r"/details$", "slow", times=1, seconds=1.0)
    with BasispoortClient(settings_for(sim_server, sim_pki, read_timeout=0.2)) as c:
        assert c.details(sid) == sim_world.details(int(sid))
    assert sim_server.hits[f"GET {API}/{sid}/details"] == 2


def test_lasting_timeouts_are_unavailable(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World
) -> None:
    sim_server.faults.add(r"/details$", "slow", times=RETRIES + 1, seconds=0.6)
    settings = settings_for(sim_server, sim_pki, read_timeout=0.15)
    with BasispoortClient(settings) as c, pytest.raises(SourceUnavailable, match="timed out"):
        c.details(school(sim_world, "consented"))


def test_nobody_listening_is_unavailable_after_the_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = BasispoortSettings(url=f"http://127.0.0.1:{port}/", retries=1, backoff=0.001)
    with BasispoortClient(settings) as c, pytest.raises(SourceUnavailable, match="2 attempts"):
        c.instellingen()


# -- bodies that break the promise ----------------------------------------------------------------


# Answers with status 200 whose body did not arrive whole: the Content-Length not reached, the
# chunked encoding not ended, the gzip stream ended early.
CUT_SHORT = ["truncated", "chunked_cut", "gzip_cut"]


@pytest.mark.parametrize("kind", CUT_SHORT)
def test_a_body_cut_short_once_is_retried(
    client: BasispoortClient, sim_server: SimulatorServer, sim_world: World, kind: str
) -> None:
    sid = school(sim_world, "largest")
    sim_server.faults.add(r"/leerlingen$", kind, times=1)
    assert client.leerlingen(sid) == sim_world.leerlingen(int(sid))
    assert sim_server.hits[f"GET {API}/{sid}/leerlingen"] == 2


@pytest.mark.parametrize("kind", CUT_SHORT)
@pytest.mark.parametrize("endpoint", ["leerlingen", "details"])
def test_a_body_cut_short_every_time_is_unavailable_not_broken_data(
    client: BasispoortClient,
    sim_server: SimulatorServer,
    sim_world: World,
    endpoint: str,
    kind: str,
) -> None:
    """The worker retries SourceUnavailable later; SourceDataError would dead-letter it."""
    sid = school(sim_world, "consented")
    sim_server.faults.add(rf"/{endpoint}$", kind, times=RETRIES + 1)
    with pytest.raises(SourceUnavailable, match="cut short") as caught:
        getattr(client, endpoint)(sid)
    assert not isinstance(caught.value, SourceDataError)
    assert f"GET rest/v2/instellingen/{sid}/{endpoint}" in str(caught.value)
    assert sim_server.hits[f"GET {API}/{sid}/{endpoint}"] == RETRIES + 1


def test_a_gzip_answer_under_the_cap_is_read_whole(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World
) -> None:
    sim_server.faults.add(r"/details$", "gzip_bomb", size=3_000_000)
    with BasispoortClient(settings_for(sim_server, sim_pki, max_response_bytes=3_000_000)) as c:
        answer = c.details(school(sim_world, "consented"))
    assert len(answer["bomb"]) == 3_000_000 - len('{"bomb":""}')


@pytest.mark.parametrize("gzip", [True, False])
def test_an_answer_over_the_cap_is_refused_without_reading_it_all(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World, gzip: bool
) -> None:
    """A gzip bomb (100 MB from 100 KB) or a plain answer one byte too large: refused at once,
    not retried, with the path, the limit and the setting to raise; memory stays near the cap."""
    sid = school(sim_world, "largest")
    if gzip:
        gzip_bomb(100_000_000)  # made before measuring: the simulator runs in this process
        sim_server.faults.add(r"/leerlingen$", "gzip_bomb", size=100_000_000)
        limit = 1_000_000
    else:
        limit = len(orjson.dumps(sim_world.leerlingen(int(sid)))) - 1
    settings = settings_for(sim_server, sim_pki, max_response_bytes=limit)
    tracemalloc.start()
    try:
        with BasispoortClient(settings) as c, pytest.raises(ResponseTooLarge) as caught:
            c.leerlingen(sid)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(caught.value, SourceDataError)  # permanent: the next try is as large
    message = str(caught.value)
    assert f"GET rest/v2/instellingen/{sid}/leerlingen" in message and str(limit) in message
    assert "raise KOPPEL_BASISPOORT_MAX_RESPONSE_BYTES" in message
    assert sim_server.hits[f"GET {API}/{sid}/leerlingen"] == 1
    assert peak < 3 * limit + 4_000_000, peak


def test_a_trickling_answer_is_cut_off_at_the_deadline(
    sim_server: SimulatorServer, sim_pki: TLSFiles, sim_world: World
) -> None:
    """One byte every 50 ms, status line and headers included: each wait is far below the read
    timeout, but the whole answer would take a minute. The deadline ends it, as a timeout."""
    sid = school(sim_world, "consented")
    sim_server.faults.add(r"/details$", "trickle", times=1, seconds=0.05)
    settings = settings_for(sim_server, sim_pki, retries=0, request_deadline=0.5)
    with BasispoortClient(settings) as c:
        with pytest.raises(SourceUnavailable, match=r"took longer than 0\.5 s") as caught:
            c.details(sid)
        assert "KOPPEL_BASISPOORT_REQUEST_DEADLINE" in str(caught.value)
        # The connection is dropped, not reused with half an answer in it.
        assert c.details(sid) == sim_world.details(int(sid))


@pytest.mark.parametrize("endpoint", ["leerlingen", "details", "ref"])
def test_a_garbled_body_is_a_data_error_at_once(
    client: BasispoortClient,
    sim_server: SimulatorServer,
    sim_world: World,
    endpoint: str,
) -> None:
    sid = school(sim_world, "consented")
    sim_server.faults.add(rf"/{endpoint}$", "garbled", times=1)
    with pytest.raises(SourceDataError, match="not valid JSON") as caught:
        getattr(client, endpoint)(sid)
    assert "html" not in str(caught.value).lower()
    assert sim_server.hits[f"GET {API}/{sid}/{endpoint}"] == 1


def test_wrong_types_are_data_errors(
    client: BasispoortClient, sim_server: SimulatorServer, sim_world: World
) -> None:
    sid = school(sim_world, "consented")
    calls = {
        r"^/rest/v2/instellingen$": client.instellingen,
        r"/nawsearch$": lambda: client.nawsearch(brincode="0"),
        r"/synchronizationpermission$": lambda: client.synchronization_permission(sid),
        r"/ref$": lambda: client.ref(sid),
        r"/toegekend/": lambda: client.toegekend(sim_world.today),
        r"/leerlingen$": lambda: client.leerlingen_by_ids(sid, [1]),
    }
    for pattern, call in calls.items():
        sim_server.faults.add(pattern, "wrong_types", times=1)
        with pytest.raises(SourceDataError):
            call()
        assert not sim_server.faults.pending(), pattern
