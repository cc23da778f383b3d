"""The OneRoster REST consumer against a real HTTP service: OAuth 2 client credentials, paging,
filter, rate limits, and a listing that fails part-way failing the whole fetch."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import structlog
from oneroster_rest_upstream import (
    CLIENT_ID,
    CLIENT_SECRET,
    Fault,
    RestService,
    as_json,
    files_in,
    running,
    tables_of,
)
from test_oneroster_source import NAMES, SAMPLE, drop

from koppel.plugin import (
    ConnectionStatus,
    SourceDataError,
    SourceRefused,
    SourceUnavailable,
)
from koppel_oneroster.rest_client import CredentialsRefused, OneRosterClient, RateLimited
from koppel_oneroster.rest_source import OneRosterRestSource
from koppel_oneroster.source import OneRosterSource


@pytest.fixture
def service() -> Iterator[RestService]:
    with running(RestService(as_json(tables_of(files_in(SAMPLE))))) as found:
        yield found


class Sleeps(list[float]):
    """The waits the client asked for, recorded instead of slept (no test waits for real)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def source_for(
    service: RestService,
    sleeps: Callable[[float], None] | None = None,
    *,
    secret: str = CLIENT_SECRET,
    **options: object,
) -> OneRosterRestSource:
    client = OneRosterClient(
        base_url=service.url,
        token_url=f"{service.url}/token",
        client_id=CLIENT_ID,
        client_secret=secret,
        sleep=sleeps if sleeps is not None else Sleeps(),
        **options,  # type: ignore[arg-type]
    )
    return OneRosterRestSource(client)


def people(snapshot) -> tuple[list, list]:
    return by_id(snapshot.pupils), by_id(snapshot.staff)


def by_id(records) -> list:
    return sorted(records, key=lambda r: getattr(r, "source_id", None) or r.key)


def test_rest_and_csv_map_the_same_package_alike(service, tmp_path):
    """One mapping for both: the sample served over REST gives the CSV source's snapshot."""
    drop(tmp_path / "drops")
    by_csv = OneRosterSource(tmp_path / "drops").fetch_snapshot("99XA00")
    by_rest = source_for(service).fetch_snapshot("99XA00")
    assert by_rest.complete and by_rest.mutated_at is None
    assert people(by_rest) == people(by_csv)
    assert by_id(by_rest.groups) == by_id(by_csv.groups)
    assert by_rest.school == by_csv.school
    assert by_rest.notes == by_csv.notes == {"guardian_left_out": 1}
    assert {s.source_id: s.roles for s in by_rest.staff}["u-t4"] == ("ext:conciërge",)


def test_a_school_is_found_by_a_filter_on_its_org_identifier(service):
    source = source_for(service)
    found = source.check_connection("99XB", "01")
    assert (found.status, found.school.source_school_id, found.school.name) == (
        ConnectionStatus.CONNECTED,
        "99XB01",
        "CBS Het Anker",
    )
    assert service.gets("orgs")[-1].query["filter"] == "identifier='99XB01'"
    assert source.check_connection("99XB", "00").status is ConnectionStatus.NOT_FOUND
    with pytest.raises(SourceRefused, match="lists no org with identifier 99XB00"):
        source.fetch_snapshot("99XB00")


def test_a_service_that_ignores_the_filter_still_gives_the_right_school(service, monkeypatch):
    monkeypatch.setattr("oneroster_rest_upstream._filtered", lambda records, _: records)
    snapshot = source_for(service).fetch_snapshot("99XB01")
    assert [p.source_id for p in snapshot.pupils] == ["u-p4"]


@pytest.mark.parametrize("paging", ["both", "total", "link", "none"])
def test_every_page_is_read_whichever_paging_headers_come(service, paging):
    service.paging = paging
    whole = source_for(service).fetch_snapshot("99XA00")
    service.log.clear()
    paged = source_for(service, page_size=2).fetch_snapshot("99XA00")
    assert people(paged) == people(whole) and by_id(paged.groups) == by_id(whole.groups)
    offsets = [int(r.query["offset"]) for r in service.gets("users")]
    assert offsets == [0, 2, 4, 6, 8][: len(offsets)] and len(offsets) >= 4
    assert {r.query["limit"] for r in service.gets("users")} == {"2"}


def test_one_token_serves_every_request_until_it_expires(service):
    source = source_for(service, page_size=2)
    source.fetch_snapshot("99XA00")
    source.fetch_snapshot("99XB01")
    assert service.token_posts() == 1
    assert service.log[0].query == {"scope": ""}  # none asked: the client was given none
    service.fault(Fault("expire-token", path="/users"))  # the service forgets its tokens
    source.fetch_snapshot("99XA00")
    assert service.token_posts() == 2
    assert [r.status for r in service.log].count(401) == 1  # renewed once, then on


def test_a_token_that_will_not_work_is_refused_not_retried_forever(service, monkeypatch):
    source = source_for(service)
    monkeypatch.setattr(service, "tokens", AlwaysExpired())
    with pytest.raises(SourceRefused, match="answered 401"):
        source.fetch_snapshot("99XA00")
    assert service.token_posts() == 2  # the first, and the one renewal a 401 earns


class AlwaysExpired(dict):
    def __contains__(self, key: object) -> bool:
        return False


def test_a_wrong_secret_is_refused_and_never_shown(service):
    said = []
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(CredentialsRefused) as caught:
            wrong = "not-the-Secret-99"
            source_for(service, secret=wrong).fetch_snapshot("99XA00")
        said.extend(str(line) for line in logs)
    assert "client id and secret were refused (401)" in str(caught.value)
    assert not [text for text in (*said, str(caught.value)) if "Secret-99" in text]


def test_a_429_waits_as_long_as_retry_after_says(service):
    sleeps = Sleeps()
    service.fault(Fault("429", path="/users", retry_after="7", after=1))
    snapshot = source_for(service, sleeps, page_size=3).fetch_snapshot("99XA00")
    assert sleeps == [7.0]
    assert len(snapshot.pupils) == 2
    assert [r.status for r in service.gets("users")] == [200, 429, 200, 200]


def test_no_requests_remaining_waits_for_the_reset(service):
    clock = Clock()
    service.rate_limit = (0, 3)  # X-RateLimit-Remaining: 0, X-RateLimit-Reset: 3 (seconds)
    source_for(service, clock.sleep, clock=clock).fetch_snapshot("99XA00")
    gets = [r for r in service.log if r.method == "GET"]
    assert clock.slept == [3.0] * (len(gets) - 1)  # before every request but the first


def test_a_wait_beyond_the_deadline_fails_as_unavailable_at_once(service):
    sleeps = Sleeps()
    service.fault(Fault("429", path="/users", retry_after="3600"))
    with pytest.raises(RateLimited) as caught:
        source_for(service, sleeps, deadline=600).fetch_snapshot("99XA00")
    assert isinstance(caught.value, SourceUnavailable)  # retried later by the worker
    assert "asks to wait 3600 s" in str(caught.value) and sleeps == []


@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [
        (Fault("500", path="/users", after=2), SourceUnavailable, "answered 500"),
        (Fault("cut", path="/users", after=1), SourceUnavailable, "could not be reached"),
        (Fault("shift", path="/users", after=1), SourceUnavailable, "changed or was cut"),
        (Fault("garbled", path="/enrollments"), SourceDataError, "not JSON"),
        (Fault("403", path="/classes"), SourceRefused, "answered 403"),
    ],
)
def test_a_listing_failing_part_way_fails_the_whole_fetch(service, fault, error, says):
    """No snapshot from some pages: a snapshot lacking people would make them leave."""
    service.fault(fault)
    with pytest.raises(error) as caught:
        source_for(service, page_size=2).fetch_snapshot("99XA00")
    assert says in str(caught.value)
    assert not [name for name in NAMES if name in str(caught.value)]


def test_a_next_link_to_another_host_is_not_followed(service):
    service.fault(
        Fault("none", path="/users", headers={"Link": '<http://elsewhere.example/u>; rel="next"'})
    )
    with pytest.raises(SourceDataError, match="another host"):
        source_for(service).fetch_snapshot("99XA00")


def test_the_service_unreachable_is_unavailable(tmp_path):
    nobody = "http://127.0.0.1:9"  # the discard port: nothing listens there
    client = OneRosterClient(
        base_url=nobody,
        token_url=f"{nobody}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    with pytest.raises(SourceUnavailable, match="token endpoint could not be reached"):
        OneRosterRestSource(client).fetch_snapshot("99XA00")


def test_no_secret_or_token_in_any_log_line(service, caplog):
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        source = source_for(service)
        source.fetch_snapshot("99XA00")
    tokens = list(service.tokens)
    said = [str(line) for line in logs] + [r.getMessage() for r in caplog.records]
    assert any("oneroster_token_renewed" in line for line in said)
    assert not [line for line in said if CLIENT_SECRET in line or any(t in line for t in tokens)]


def test_records_in_the_1_1_shape_and_users_without_roles_are_read(service):
    users = service.data["users"]
    for user in users:
        if user["sourcedId"] == "u-p2":  # OneRoster 1.1: one role, at each of the user's orgs
            user["role"], user["orgs"] = "student", [{"sourcedId": "org-a", "type": "org"}]
            del user["roles"]
    users.append({"sourcedId": "u-x", "status": "active", "givenName": "Nobody"})  # no roles
    snapshot = source_for(service).fetch_snapshot("99XA00")
    assert sorted(p.source_id for p in snapshot.pupils) == ["u-p1", "u-p2"]
    assert "u-x" not in {s.source_id for s in snapshot.staff}


def test_a_field_of_the_wrong_type_is_named_with_its_record_never_its_value(service):
    service.data["users"][1]["familyName"] = {"value": "Proefhoven"}
    with pytest.raises(SourceDataError) as caught:
        source_for(service).fetch_snapshot("99XA00")
    assert "users record 2 has familyName that is not a string" in str(caught.value)
    assert "Proefhoven" not in str(caught.value)


def test_a_redirect_is_refused_and_not_followed(service):
    service.fault(Fault("302", path="/users", headers={"Location": "http://elsewhere.example/"}))
    with pytest.raises(SourceRefused, match="answered 302"):
        source_for(service).fetch_snapshot("99XA00")


class Clock:
    """A monotonic clock that moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_each_fetch_has_its_own_deadline(service):
    clock = Clock()
    client = OneRosterClient(
        base_url=service.url,
        token_url=f"{service.url}/token",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        deadline=10,
        sleep=clock.sleep,
        clock=clock,
    )
    source = OneRosterRestSource(client)
    service.fault(Fault("429", path="/users", retry_after="6"))
    source.fetch_snapshot("99XA00")
    service.fault(Fault("429", path="/users", retry_after="6"))
    source.fetch_snapshot("99XA00")  # 12 s waited in all, 6 s in each fetch
    service.fault(Fault("429", path="/users", retry_after="6", times=2))
    with pytest.raises(RateLimited, match="beyond this fetch's deadline of 10 s"):
        source.fetch_snapshot("99XA00")  # 6 s, then 6 more would pass 10
    assert clock.slept == [6.0, 6.0, 6.0]
