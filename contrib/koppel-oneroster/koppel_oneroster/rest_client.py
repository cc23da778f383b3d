"""HTTP client for a OneRoster 1.2 REST service: OAuth 2 client credentials, paging, rate limits.

Failures map onto koppel's error kinds: the service unreachable, 5xx, a rate limit that would
outlast the deadline, or a listing that changed or was cut while it was paged is
SourceUnavailable (retried later); 4xx and a refused client id/secret are SourceRefused; an
answer that is not OneRoster JSON is SourceDataError. Messages name the method, the path and
the status, never a body (it holds personal data) and never a token or secret.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from koppel.plugin import SourceDataError, SourceRefused, SourceUnavailable

log = structlog.get_logger()
ROSTERING = "ims/oneroster/rostering/v1p2"
TOKEN_MARGIN = 30.0  # renew a token this long before it expires (clocks and queues differ)
MAX_RATE_LIMITED = 20  # 429s in a row before giving up, whatever Retry-After says
USER_AGENT = "koppel (OneRoster 1.2 REST consumer)"
Item = dict[str, Any]


class RateLimited(SourceUnavailable):
    """The service asks to wait longer than the fetch may still take: retried later."""

    hint = (
        "the OneRoster service limits its requests; the sync is retried later. Raise "
        "KOPPEL_ONEROSTER_REST_DEADLINE if its limits need longer waits"
    )


class CredentialsRefused(SourceRefused):
    """The token endpoint refused the client id and secret."""

    hint = "check KOPPEL_ONEROSTER_REST_CLIENT_ID, _CLIENT_SECRET, _TOKEN_URL and _SCOPE"


class OneRosterClient:
    """One connection pool to the service and its token endpoint; ``collection`` reads a whole
    paged listing. ``begin`` starts a deadline for the requests of one source call."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str = "",
        page_size: int = 100,
        deadline: float = 600.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = base_url.rstrip("/") + "/"
        self._token_url = token_url
        self._credentials = (client_id, client_secret)
        self._scope = scope
        self._page_size = page_size
        self._deadline = deadline
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})
        self._token: str | None = None
        self._token_expires = 0.0
        # Each worker thread's fetch has its own deadline; the token and the rate limit's pause
        # are the client's, shared by its threads.
        self._fetch = threading.local()
        self._quiet_until = 0.0  # X-RateLimit-Remaining reached 0: no request before this

    def close(self) -> None:
        self._http.close()

    def begin(self) -> None:
        """Start a new deadline: this thread's requests from now on (and their waits) share it."""
        self._fetch.until = self._clock() + self._deadline

    # -- listings ---------------------------------------------------------------------------------

    def collection(self, path: str, key: str, *, filter: str | None = None) -> list[Item]:
        """Every record of the paged listing at ``path`` (under the rostering base), from the
        JSON member ``key``; all pages or an error, never some of them."""
        path = f"/{ROSTERING}/{path.lstrip('/')}"
        query: dict[str, str | int] = {"limit": self._page_size}
        if filter is not None:
            query["filter"] = filter
        url: str | None = self._base + path[1:]
        params: dict[str, str | int] | None = {**query, "offset": 0}
        items: list[Item] = []
        announced: int | None = None
        followed: set[str] = set()
        while url is not None:
            response = self._get(url, path, params)
            batch = _records(response, key, path)
            items += batch
            total = _total(response, path)
            if announced is not None and total != announced:
                raise _changed(path, "its X-Total-Count moved between pages")
            announced = total
            url, params = self._next(response, path, query, len(batch), len(items), followed)
        if announced is not None and len(items) != announced:
            raise _changed(path, f"{len(items)} records arrived of the {announced} announced")
        ids = [str(item.get("sourcedId")) for item in items]
        if len(set(ids)) != len(ids):
            raise _changed(path, "a record came twice")
        return items

    def _next(
        self,
        response: httpx.Response,
        path: str,
        query: dict[str, str | int],
        got: int,
        so_far: int,
        followed: set[str],
    ) -> tuple[str | None, dict[str, str | int] | None]:
        """The next page: the Link header's rel="next" when given, else the next offset while
        X-Total-Count (or, without it, a full page) says more remain."""
        link = response.links.get("next", {}).get("url")
        if link:
            url = str(response.url.join(link))
            if _origin(url) != _origin(self._base) or url in followed:
                raise SourceDataError(
                    f'GET {path}: its Link rel="next" leads to another host or back',
                    hint="the OneRoster service's paging is broken; report it to its supplier",
                )
            followed.add(url)  # the token goes only to the service's own host, each page once
            return url, None  # the link holds every parameter
        total = _total(response, path)
        if not (so_far < total if total is not None else got >= self._page_size):
            return None, None
        if got == 0:  # more announced, none given: following the offset would never end
            raise _changed(path, "an empty page came before the end")
        return self._base + path[1:], {**query, "offset": so_far}

    # -- requests ---------------------------------------------------------------------------------

    def _get(self, url: str, path: str, params: dict[str, str | int] | None) -> httpx.Response:
        """One GET with a bearer token: a 401 renews the token once, a 429 waits as told."""
        renewed = False
        limited = 0
        while True:
            if self._quiet_until > self._clock():
                self._wait(self._quiet_until - self._clock(), path, "X-RateLimit-Remaining 0")
            headers = {"Authorization": f"Bearer {self._bearer()}", "Accept": "application/json"}
            try:
                response = self._http.get(url, params=params, headers=headers)
            except httpx.TimeoutException:
                raise SourceUnavailable(f"GET {path}: the OneRoster service timed out") from None
            except httpx.HTTPError as exc:
                raise SourceUnavailable(
                    f"GET {path}: the OneRoster service could not be reached ({type(exc).__name__})"
                ) from None
            self._note_limits(response)
            if response.status_code == 401 and not renewed:
                self._token, renewed = None, True  # expired early, or revoked: one fresh try
                continue
            if response.status_code == 429 and limited < MAX_RATE_LIMITED:
                limited += 1
                self._wait(_retry_after(response), path, "429 Too Many Requests")
                continue
            _raise_for_status(response, f"GET {path}")
            return response

    def _bearer(self) -> str:
        """The cached access token, or a new one when none is held or it is about to expire."""
        if self._token is not None and self._clock() < self._token_expires:
            return self._token
        data = {"grant_type": "client_credentials"}
        if self._scope:
            data["scope"] = self._scope
        what = "POST to the token endpoint"
        try:
            response = self._http.post(self._token_url, data=data, auth=self._credentials)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"{what}: the OneRoster token endpoint could not be reached ({type(exc).__name__})"
            ) from None
        if response.status_code in (400, 401, 403):
            raise CredentialsRefused(
                f"{what}: the client id and secret were refused ({response.status_code})"
            )
        _raise_for_status(response, what)
        body = _json(response, what)
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise SourceDataError(f"{what}: the answer lacks access_token or expires_in")
        self._token = token
        self._token_expires = self._clock() + max(float(lifetime) - TOKEN_MARGIN, 0.0)
        log.info("oneroster_token_renewed", expires_in=lifetime)
        return token

    def _note_limits(self, response: httpx.Response) -> None:
        """Remember to pause when the service says no requests remain until a reset."""
        remaining = response.headers.get("X-RateLimit-Remaining", "").strip()
        reset = _seconds(response.headers.get("X-RateLimit-Reset"), epoch_possible=True)
        if remaining == "0" and reset is not None:
            self._quiet_until = self._clock() + reset

    def _wait(self, seconds: float, path: str, why: str) -> None:
        """Sleep ``seconds`` if the deadline allows, else give up as RateLimited."""
        until = getattr(self._fetch, "until", None)
        if until is None:  # a request outside any begin(): the deadline starts now
            until = self._fetch.until = self._clock() + self._deadline
        if self._clock() + seconds > until:
            raise RateLimited(
                f"GET {path}: the OneRoster service asks to wait {seconds:.0f} s ({why}), "
                f"beyond this fetch's deadline of {self._deadline:.0f} s"
            )
        log.info("oneroster_rate_limited", path=path, wait_seconds=round(seconds, 3), reason=why)
        self._sleep(seconds)
        self._quiet_until = 0.0


def _raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status >= 500 or status == 429:
        raise SourceUnavailable(f"{what}: the OneRoster service answered {status}")
    if status >= 300:  # a redirect too: the URL is not the service's (tokens stay here)
        raise SourceRefused(
            f"{what}: the OneRoster service answered {status}",
            hint="check KOPPEL_ONEROSTER_REST_URL and that the client may read this school",
        )


def _json(response: httpx.Response, what: str) -> Item:
    try:
        body = response.json()
    except ValueError:
        raise SourceDataError(f"{what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise SourceDataError(f"{what}: the answer is not a JSON object")
    return body


def _records(response: httpx.Response, key: str, path: str) -> list[Item]:
    batch = _json(response, f"GET {path}").get(key)
    if not isinstance(batch, list) or not all(isinstance(item, dict) for item in batch):
        raise SourceDataError(f"GET {path}: the answer's {key!r} is not a list of objects")
    return batch


def _total(response: httpx.Response, path: str) -> int | None:
    value = response.headers.get("X-Total-Count")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise SourceDataError(f"GET {path}: X-Total-Count is not a count")
    return int(value)


def _changed(path: str, what: str) -> SourceUnavailable:
    return SourceUnavailable(
        f"GET {path}: the listing changed or was cut while it was paged ({what})",
        hint="nothing was changed; the sync is retried later and reads the listing whole",
    )


def _retry_after(response: httpx.Response) -> float:
    """Retry-After in seconds (a number or an HTTP date); X-RateLimit-Reset, or 1 s, if absent."""
    header = response.headers.get("Retry-After")
    found = _seconds(header, epoch_possible=False)
    if found is None and header:
        try:
            found = (parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            found = None
    if found is None:
        found = _seconds(response.headers.get("X-RateLimit-Reset"), epoch_possible=True)
    return max(found if found is not None else 1.0, 0.0)


def _seconds(value: str | None, *, epoch_possible: bool) -> float | None:
    """A header's seconds; X-RateLimit-Reset is a delta or (when that large) a Unix time."""
    try:
        number = float((value or "").strip())
    except ValueError:
        return None
    if epoch_possible and number > 1_000_000_000:
        number -= time.time()
    return max(number, 0.0)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc
