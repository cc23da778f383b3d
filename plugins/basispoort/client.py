"""HTTP client for the Basispoort partner API (Instellingen v2): mTLS, retries, error mapping."""

from __future__ import annotations

import random
import ssl
import time
import zlib
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

import httpx
import orjson
import structlog

from koppel.plugin import (
    ConfigError,
    KoppelError,
    SourceDataError,
    SourceRefused,
    SourceUnavailable,
)
from plugins.basispoort import assumptions, deadline
from plugins.basispoort.parse import expect_object, parse_ids
from plugins.basispoort.settings import PREFIX, BasispoortSettings

log = structlog.get_logger()

T = TypeVar("T")
INSTELLINGEN = "rest/v2/instellingen"
USER_AGENT = "koppel (Basispoort partner client)"
INFLATE_STEP = 1 << 20


class NotFound(SourceRefused):
    """Basispoort answered 404: no such school (or, for an optional endpoint, not offered)."""

    hint = "check the school id; the school may have left Basispoort"


class NoConsent(SourceRefused):
    """Basispoort answered 403 for a school's data: the school gave this publisher no consent."""

    hint = "the school must tick this publisher in Basispoort (Beheer → Uitgeverijen)"


class ResponseTooLarge(SourceDataError):
    """An answer larger than the cap: reading it could exhaust the worker's memory."""

    hint = (
        f"nothing was changed; if the school really is this large, raise {PREFIX}MAX_RESPONSE_BYTES"
    )


class BodyCutShort(Exception):
    """The answer's body did not arrive whole (its compressed stream ended early)."""


class InvalidSchoolId(KoppelError):
    """A Basispoort school id must be an integer; anything else is a bug or a bad school row."""

    hint = "Basispoort school ids are integers; check the school's source_school_id"


def make_ssl_context(settings: BasispoortSettings) -> ssl.SSLContext:
    """TLS 1.2 or newer, the server verified against the CA, our certificate and key presented."""
    ca = settings.ca_bundle()
    pem = settings.client_pem()
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # An empty password: an encrypted key fails here instead of prompting on a terminal.
        context.load_cert_chain(str(pem), password=b"")
    except ssl.SSLError:
        raise ConfigError(
            f"{PREFIX}CERT ({pem}): the certificate and private key cannot be used together "
            "(key encrypted, damaged, or not the certificate's key)"
        ) from None
    return context


class BasispoortClient:
    """One reused httpx transport (a connection pool); each method is one endpoint, returning
    parsed JSON.

    Failures: connection errors, timeouts, a passed request deadline, 5xx and bodies that did
    not arrive whole are retried with exponential backoff and jitter, then raise
    SourceUnavailable (the worker retries the message later); TLS problems and 4xx raise
    SourceRefused at once (404 NotFound, 403 on a school's data NoConsent); a whole body that is
    not the promised JSON raises SourceDataError at once, and so does a body over the size cap
    (ResponseTooLarge). Messages name the method, the path and the status, never a body.
    """

    def __init__(
        self, settings: BasispoortSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        base_url = settings.base_url()
        verify: ssl.SSLContext | bool = (
            make_ssl_context(settings) if base_url.startswith("https://") else False
        )
        self._retries = settings.retries
        self._backoff = settings.backoff
        self._sleep = sleep
        self._base = base_url
        self._deadline = settings.request_deadline
        self._max_bytes = settings.max_response_bytes
        # The transport without httpx.Client around it: the Client spent ~0.2 ms of CPU per
        # request (a quarter of a details() call) on URL merging, cookies, auth and redirects,
        # none of which this API uses (no cookies, no auth, redirects are refusals). Proxies
        # come from a setting, not the environment, since only the Client reads HTTPS_PROXY.
        self._transport = deadline.deadline_transport(verify=verify, proxy=settings.proxy)
        # What the Client sent by default, with our Accept and User-Agent, and gzip alone (a
        # server that sends 'deflate' anyway is understood in its zlib form, see _body).
        self._headers = httpx.Headers(
            {
                "Accept": "application/json",
                "Accept-Encoding": "gzip",
                "Connection": "keep-alive",
                "User-Agent": USER_AGENT,
            }
        )
        self._timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.connect_timeout,
            pool=settings.connect_timeout,
        ).as_dict()

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> BasispoortClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints --------------------------------------------------------------------------------

    def instellingen(self) -> tuple[str, ...]:
        """Ids of every school visible to this publisher."""
        return parse_ids(self._get(INSTELLINGEN), f"GET {INSTELLINGEN}")

    def overview(self, school_id: str) -> dict[str, Any]:
        """``groepen``, ``subgroepen``, ``leerlingen``, ``medewerkers``, ``actief``,
        ``gefuseerdNaar`` and ``metaResult`` of one school (it can be large)."""
        path = _school(school_id, "")
        return self._request("GET", path, _read_object, consent=True)

    def details(self, school_id: str) -> dict[str, Any]:
        """Name, address, brincode + dependancecode, instellingRef, actief, gefuseerdNaar."""
        return self._get_object(_school(school_id, "/details"), consent=True)

    def groepen(self, school_id: str) -> dict[str, Any]:
        """``{groepen: [...], subgroepen: [...], metaResult}``."""
        return self._get_object(
            _school(school_id, "/groepen"), consent=True, lists=("groepen", "subgroepen")
        )

    def leerlingen(self, school_id: str) -> dict[str, Any]:
        """``{leerlingen: [...], metaResult}``: every pupil (no pagination)."""
        path = _school(school_id, "/leerlingen")
        return _pupils(self._request("GET", path, _read_object, consent=True), path)

    def leerlingen_by_ids(self, school_id: str, ids: Sequence[str | int]) -> dict[str, Any]:
        """Only the pupils with these Basispoort ids."""
        body = [int(i) for i in ids]
        path = _school(school_id, "/leerlingen")
        return _pupils(
            self._request("POST", path, _read_object, json_body=body, consent=True), path
        )

    def leerlingen_by_eckids(self, school_id: str, eckids: Sequence[str]) -> dict[str, Any]:
        """Only the pupils with these ECK iDs."""
        path = _school(school_id, "/leerlingen_eckid")
        doc = self._request("POST", path, _read_object, json_body=list(eckids), consent=True)
        return _pupils(doc, path)

    def staf(self, school_id: str) -> dict[str, Any]:
        """``{medewerkers: [...], metaResult}``."""
        return self._get_object(_school(school_id, "/staf"), consent=True, lists=("medewerkers",))

    def ref(self, school_id: str) -> str:
        """The school's ``instellingRef`` (a bare JSON string), used in SSO deep links."""
        path = _school(school_id, "/ref")
        value = self._get(path, consent=True)
        if not isinstance(value, str):
            raise SourceDataError(f"GET {path}: expected a JSON string")
        return value

    def synchronization_permission(self, school_id: str) -> bool:
        """Whether the school granted this publisher permission (never asks the school)."""
        path = _school(school_id, "/uitgever/synchronizationpermission")
        params = {"request-permission": str(assumptions.REQUEST_PERMISSION).lower()}
        doc = expect_object(self._get(path, params=params), f"GET {path}")
        value = doc.get("hasSynchronizationPermission")
        if not isinstance(value, bool):
            raise SourceDataError(f"GET {path}: 'hasSynchronizationPermission' is not a boolean")
        return value

    def give_up_synchronization_permission(self, school_id: str) -> None:
        """Tell Basispoort this publisher no longer wants the school's data."""
        path = _school(school_id, "/uitgever/synchronizationpermission")
        self._request("DELETE", path, _ignore_body)

    def toegekend(self, day: date) -> tuple[str, ...]:
        """Ids of schools that granted permission on ``day`` (Basispoort's calendar)."""
        path = f"{INSTELLINGEN}/synchronizationpermission/toegekend/{day.isoformat()}"
        return parse_ids(self._get(path), f"GET {path}")

    def ingetrokken(self, day: date) -> tuple[str, ...]:
        """Ids of schools that revoked permission on ``day`` (Basispoort's calendar)."""
        path = f"{INSTELLINGEN}/synchronizationpermission/ingetrokken/{day.isoformat()}"
        return parse_ids(self._get(path), f"GET {path}")

    def nawsearch(
        self,
        *,
        naam: str | None = None,
        brincode: str | None = None,
        adres: str | None = None,
        postcode: str | None = None,
        plaatsnaam: str | None = None,
        active_only: bool | None = None,
        bestuurscode: str | None = None,
    ) -> list[dict[str, Any]]:
        """Search schools; only the parameters given are sent."""
        given = {
            "naam": naam,
            "brincode": brincode,
            "adres": adres,
            "postcode": postcode,
            "plaatsnaam": plaatsnaam,
            "activeOnly": None if active_only is None else str(active_only).lower(),
            "bestuurscode": bestuurscode,
        }
        path = "rest/v2/nawsearch"
        found = self._get(path, params={k: v for k, v in given.items() if v is not None})
        if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
            raise SourceDataError(f"GET {path}: expected a JSON array of objects")
        return found

    def ipadressen(self, school_id: str) -> dict[str, Any]:
        """The school's networks from the assumed endpoint (see assumptions.py); 404: NotFound."""
        path = assumptions.IPADRESSEN_PATH.format(id=_school_number(school_id))
        return self._get_object(path, consent=True)

    # -- transport --------------------------------------------------------------------------------

    def _get(
        self, path: str, *, params: dict[str, str] | None = None, consent: bool = False
    ) -> Any:
        return self._request("GET", path, _read_json, params=params, consent=consent)

    def _get_object(
        self, path: str, *, consent: bool = False, lists: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        return dict(expect_object(self._get(path, consent=consent), f"GET {path}", lists))

    def _request(
        self,
        method: str,
        path: str,
        read: Callable[[bytes, str], T],
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        consent: bool = False,
    ) -> T:
        """Send one request with retries; ``read`` turns a 2xx response's body into the result."""
        what = f"{method} {path}"
        request = httpx.Request(
            method,
            self._base + path,
            params=params,
            json=json_body,
            headers=self._headers,
            extensions={"timeout": self._timeout},
        )
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            answered = False
            due = deadline.start(self._deadline)
            try:
                response = self._transport.handle_request(request)
                response.request = request  # errors while reading name the request
                answered = True
                try:
                    status = response.status_code
                    if status < 300:
                        return read(_body(response, what, self._max_bytes), what)
                    if status < 500:
                        raise _refusal(what, status, consent)
                    reason = f"answered {status}"
                finally:
                    response.close()  # back to the pool, or dropped if the body was not read
            except httpx.TimeoutException:
                reason = "timed out"
            except deadline.DeadlinePassed:
                reason = f"took longer than {self._deadline:g} s ({PREFIX}REQUEST_DEADLINE)"
            except BodyCutShort as exc:
                reason = f"sent a body that was cut short ({exc})"
            except httpx.TransportError as exc:
                if _is_tls_refusal(exc):
                    raise SourceRefused(
                        f"{what}: the TLS handshake with {self._base} failed ({_tls_reason(exc)})"
                    ) from None
                # A body that did not arrive whole (connection dropped, Content-Length or
                # chunked encoding not complete) is a fault on the way, not broken data.
                reason = "sent a body that was cut short" if answered else "could not be sent"
                reason += f" ({type(exc).__name__})"
            finally:
                deadline.end(due)
            if attempt < attempts:
                delay = self._backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)
                log.warning("basispoort_retry", request=what, attempt=attempt, reason=reason)
                self._sleep(delay)
        raise SourceUnavailable(f"{what} {reason} ({attempts} attempts) at {self._base}")


def _school_number(school_id: str | int) -> int:
    try:
        return int(str(school_id).strip())
    except ValueError:
        raise InvalidSchoolId(f"{school_id!r} is not a Basispoort school id") from None


def _school(school_id: str | int, suffix: str) -> str:
    return f"{INSTELLINGEN}/{_school_number(school_id)}{suffix}"


def _refusal(what: str, status: int, consent: bool) -> SourceRefused:
    if status == 404:
        return NotFound(f"{what} answered 404")
    if status == 403 and consent:
        return NoConsent(f"{what} answered 403")
    if status in (401, 403):
        return SourceRefused(
            f"{what} answered {status}",
            hint="Basispoort did not accept the client certificate for this; check "
            f"{PREFIX}CERT and that the certificate is registered for this environment",
        )
    if 300 <= status < 400:
        return SourceRefused(
            f"{what} answered a redirect ({status})",
            hint=f"check {PREFIX}URL / {PREFIX}ENV: the base URL is probably wrong",
        )
    return SourceRefused(
        f"{what} answered {status}",
        hint="Basispoort rejected the request; retrying will not help. Report it with the path",
    )


def _is_tls_refusal(exc: BaseException) -> bool:
    """A certificate or handshake problem (not a dropped connection, which may be transient)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _tls_reason(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return cause.reason or type(cause).__name__
        cause = cause.__cause__ or cause.__context__
    return "unknown"


def _body(response: httpx.Response, what: str, limit: int) -> bytes:
    """The whole body, decompressed, read as it arrives; ResponseTooLarge as soon as it passes
    ``limit`` bytes, BodyCutShort if its gzip or deflate stream ends early.

    Decompressed here rather than by httpx: httpx inflates each chunk whole (64 KB of a gzip
    bomb is 64 MB) and accepts a compressed stream that stops before its end.
    """
    coding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if coding in ("gzip", "x-gzip", "deflate"):
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, by the header
    elif coding == "identity":
        inflate = None
    else:
        raise SourceDataError(f"{what}: the body is in an unknown encoding {coding[:40]!r}")
    chunks = []
    size = 0
    for raw in response.iter_raw():
        if inflate is None:
            size += len(raw)
            if size > limit:
                raise _too_large(what, limit)
            chunks.append(raw)
            continue
        while True:
            # A megabyte at most per step and never more than one byte past the limit, so a
            # bomb is stopped with little more than the limit in memory.
            step = min(limit - size + 1, INFLATE_STEP)
            try:
                data = inflate.decompress(raw, step)
            except zlib.error:
                raise SourceDataError(f"{what}: the {coding} body is damaged") from None
            size += len(data)
            if size > limit:
                raise _too_large(what, limit)
            chunks.append(data)
            raw = inflate.unconsumed_tail
            if not raw and len(data) < step:
                break
    if inflate is not None and not inflate.eof:
        raise BodyCutShort(f"the {coding} stream ended early")
    return b"".join(chunks)


def _too_large(what: str, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"{what}: the answer is larger than the limit of {limit} bytes")


def _read_json(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SourceDataError(f"{what}: the body ({len(body)} bytes) is not valid JSON") from None


def _ignore_body(body: bytes, what: str) -> None:
    pass


def _pupils(doc: dict[str, Any], path: str) -> dict[str, Any]:
    expect_object(doc, path, ("leerlingen",))
    return doc


def _read_object(body: bytes, what: str) -> dict[str, Any]:
    """A JSON object read whole, then parsed.

    Even the largest school is a few megabytes, and the whole object is built anyway; orjson
    parses it several times faster than a streaming parser (which was 8 us per pupil).
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SourceDataError(
            f"{what}: the whole body ({len(body)} bytes) is not valid JSON (damaged)"
        ) from None
    if doc is None:
        raise SourceDataError(f"{what}: the body is empty or null")
    return dict(expect_object(doc, what))
