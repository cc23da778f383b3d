"""A small OneRoster 1.2 REST service over real HTTP, for tests: OAuth 2 client credentials,
limit/offset paging (X-Total-Count and Link rel="next"), ``filter``, and faults on demand.

It serves a OneRoster CSV package (a directory of .csv files, or files as text) as the REST
binding's JSON, so the same data can be read through both sources.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from koppel.testing import Failure, Roster

BASE = "/ims/oneroster/rostering/v1p2"
CLIENT_ID, CLIENT_SECRET = "koppel-test-client", "s3cret-Never-Logged-42"
_FILTER = re.compile(r"^\s*(\w+)\s*(=|!=)\s*'([^']*)'\s*$")


def tables_of(files: dict[str, str]) -> dict[str, list[dict[str, str]]]:
    """The CSV package's tables by name (``users``, ...), from its files' text."""
    return {
        name.removesuffix(".csv"): list(csv.DictReader(io.StringIO(text, newline="")))
        for name, text in files.items()
        if name.endswith(".csv") and name != "manifest.csv"
    }


def files_in(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8-sig") for p in sorted(directory.glob("*.csv"))}


def as_json(tables: dict[str, list[dict[str, str]]]) -> dict[str, list[dict[str, Any]]]:
    """The REST binding's records for a CSV package's tables (roles nested in their users)."""

    def ref(sourced_id: str, kind: str) -> dict[str, str] | None:
        return {"sourcedId": sourced_id, "type": kind} if sourced_id else None

    roles: dict[str, list[dict[str, Any]]] = {}
    for row in tables.get("roles", []):
        roles.setdefault(row["userSourcedId"], []).append(
            {"roleType": row.get("roleType") or "primary", "role": row["role"],
             "org": ref(row["orgSourcedId"], "org")}
        )  # fmt: skip
    users = []
    for row in tables["users"]:
        if "roles" not in tables:  # OneRoster 1.1 style: role and orgs in users.csv
            orgs = [o.strip() for o in row.get("orgSourcedIds", "").split(",") if o.strip()]
            roles[row["sourcedId"]] = [{"roleType": "primary", "role": row.get("role", ""),
                                        "org": ref(o, "org")} for o in orgs]  # fmt: skip
        ids = re.findall(r"\{([^:{}]*):([^{}]*)\}", row.get("userIds", ""))
        users.append(
            {
                "sourcedId": row["sourcedId"],
                "status": row["status"] or "active",
                "dateLastModified": row.get("dateLastModified") or None,
                "enabledUser": row.get("enabledUser", "true") != "false",
                "username": row.get("username", ""),
                "userIds": [{"type": t, "identifier": i} for t, i in ids],
                "givenName": row["givenName"],
                "familyName": row["familyName"],
                "middleName": row.get("middleName") or None,
                "email": row.get("email") or None,
                "roles": roles.get(row["sourcedId"], []),
            }
        )
    keep = ("sourcedId", "status", "dateLastModified", "name", "type", "identifier")
    orgs = [{k: row.get(k) or None for k in keep} for row in tables["orgs"]]
    classes = [
        {"sourcedId": row["sourcedId"], "status": row["status"] or "active",
         "title": row["title"], "classType": row["classType"],
         "school": ref(row["schoolSourcedId"], "org")}
        for row in tables.get("classes", [])
    ]  # fmt: skip
    enrollments = [
        {"sourcedId": row["sourcedId"], "status": row["status"] or "active", "role": row["role"],
         "class": ref(row["classSourcedId"], "class"), "school": ref(row["schoolSourcedId"], "org"),
         "user": ref(row["userSourcedId"], "user")}
        for row in tables.get("enrollments", [])
    ]  # fmt: skip
    return {"orgs": orgs, "users": users, "classes": classes, "enrollments": enrollments}


@dataclass
class Fault:
    """One planned misbehaviour: ``kind`` on requests whose path matches ``path``, ``times``
    times (or until cleared when None); ``after`` lets that many matching requests pass first."""

    kind: str  # 429, 500, 503, 403, garbled, cut, expire-token, shift
    path: str = ".*"
    times: int | None = 1
    after: int = 0
    retry_after: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Served:
    """One request the service answered (what tests look at); never a secret."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    bearer: str | None


class RestService:
    """The service's data and behaviour; ``url`` once started (see ``running``)."""

    def __init__(self, data: dict[str, list[dict[str, Any]]], *, token_seconds: int = 3600):
        self.data = data
        self.token_seconds = token_seconds
        self.paging = "both"  # "link", "total", "both" or "none": which paging headers to send
        self.rate_limit: tuple[int, int] | None = None  # (remaining, reset seconds) headers
        self.faults: list[Fault] = []
        self.log: list[Served] = []
        self.tokens: dict[str, float] = {}  # token -> when it expires (time.monotonic)
        self.url = ""
        self.lock = threading.Lock()

    def serve_package(self, files: dict[str, str]) -> None:
        with self.lock:
            self.data = as_json(tables_of(files))

    def fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def token_posts(self) -> int:
        return sum(1 for r in self.log if r.method == "POST")

    def gets(self, path: str) -> list[Served]:
        return [r for r in self.log if r.method == "GET" and r.path == f"{BASE}/{path}"]

    # -- answering (called by the handler, one thread per request) -------------------------------

    def planned(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if not re.search(fault.path, path):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def listing(self, path: str) -> tuple[str, list[dict[str, Any]]] | None:
        """The JSON member and records at ``path`` (under BASE), or None: no such listing."""
        parts = path.removeprefix(BASE).strip("/").split("/")
        data = self.data
        if parts in (["orgs"], ["users"], ["classes"], ["enrollments"]):
            return parts[0], data[parts[0]]
        if len(parts) == 3 and parts[0] == "schools" and parts[2] in ("classes", "enrollments"):
            school = parts[1]
            return parts[2], [
                r for r in data[parts[2]] if (r["school"] or {}).get("sourcedId") == school
            ]
        return None


def _filtered(records: list[dict[str, Any]], expression: str | None) -> list[dict[str, Any]]:
    """The binding's ``field='value'`` (and ``!=``) filter; anything else is a 400."""
    if expression is None:
        return records
    found = _FILTER.match(expression)
    if found is None:
        raise ValueError("unsupported filter")
    name, op, value = found.groups()
    return [r for r in records if (str(r.get(name) or "") == value) == (op == "=")]


class _Handler(BaseHTTPRequestHandler):
    service: RestService

    def log_message(self, format: str, *args: Any) -> None:  # no stderr noise in test output
        pass

    def _answer(
        self, status: int, body: bytes, headers: dict[str, str] | None = None, *, cut: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if cut else body)
        if cut:  # the connection drops mid-body, as when a proxy gives up
            self.close_connection = True

    def _record(self, status: int, query: dict[str, str], bearer: str | None) -> None:
        path = urlsplit(self.path).path
        self.service.log.append(Served(self.command, path, query, status, bearer))

    def do_POST(self) -> None:  # the token endpoint
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        fault = self.service.planned("/token")
        auth = self.headers.get("Authorization", "")
        given = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth else ""
        if fault is not None and fault.kind in ("500", "503", "403"):
            status = int(fault.kind)
            self._record(status, form, None)
            return self._answer(status, b'{"error":"fault"}')
        if (
            form.get("grant_type") != "client_credentials"
            or given != f"{CLIENT_ID}:{CLIENT_SECRET}"
        ):
            self._record(401, {"grant_type": form.get("grant_type", "")}, None)
            return self._answer(401, b'{"error":"invalid_client"}')
        token = secrets.token_urlsafe(16)
        self.service.tokens[token] = time.monotonic() + self.service.token_seconds
        self._record(200, {"scope": form.get("scope", "")}, None)
        body = {"access_token": token, "token_type": "bearer",
                "expires_in": self.service.token_seconds}  # fmt: skip
        self._answer(200, json.dumps(body).encode())

    def do_GET(self) -> None:
        service = self.service
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        bearer = self.headers.get("Authorization", "").removeprefix("Bearer ") or None
        fault = service.planned(parts.path)
        if fault is not None and fault.kind == "expire-token":
            service.tokens.clear()
        if bearer not in service.tokens or service.tokens[bearer] < time.monotonic():
            self._record(401, query, bearer)
            return self._answer(401, b'{"imsx_codeMajor":"failure"}')
        if fault is not None and fault.kind in ("302", "429", "500", "503", "403"):
            headers = dict(fault.headers)
            if fault.retry_after is not None:
                headers["Retry-After"] = fault.retry_after
            self._record(int(fault.kind), query, bearer)
            return self._answer(int(fault.kind), b'{"imsx_codeMajor":"failure"}', headers)
        if fault is not None and fault.kind == "garbled":
            self._record(200, query, bearer)
            return self._answer(200, b"<html>Gateway says hello</html>")
        found = service.listing(parts.path)
        if found is None:
            self._record(404, query, bearer)
            return self._answer(404, b'{"imsx_codeMajor":"failure"}')
        key, records = found
        try:
            records = _filtered(records, query.get("filter"))
            limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
        except ValueError:
            self._record(400, query, bearer)
            return self._answer(400, b'{"imsx_codeMajor":"failure"}')
        page = records[offset : offset + limit]
        if fault is not None and fault.kind == "shift":  # a record vanishes between pages
            with service.lock:
                service.data[key] = service.data[key][1:]
        headers = dict(fault.headers) if fault is not None else {}
        if service.paging in ("total", "both"):
            headers["X-Total-Count"] = str(len(records))
        if service.paging in ("link", "both") and offset + limit < len(records):
            nxt = {**query, "offset": str(offset + limit), "limit": str(limit)}
            link = "&".join(f"{k}={quote(v, safe='')}" for k, v in nxt.items())
            headers["Link"] = f'<{parts.path}?{link}>; rel="next"'
        if service.rate_limit is not None:
            headers["X-RateLimit-Remaining"] = str(service.rate_limit[0])
            headers["X-RateLimit-Reset"] = str(service.rate_limit[1])
        self._record(200, query, bearer)
        cut = fault is not None and fault.kind == "cut"
        self._answer(200, json.dumps({key: page}).encode(), headers, cut=cut)


@contextmanager
def running(service: RestService) -> Iterator[RestService]:
    """The service listening on a free loopback port (``service.url``) until the block ends."""
    handler = type("Handler", (_Handler,), {"service": service})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class RestUpstream:
    """The kit's Upstream over a running RestService: each roster served is the school's data."""

    brin6 = "99ZZ01"

    def __init__(self, service: RestService) -> None:
        from oneroster_upstream import package_files

        self._package = package_files
        self.service = service
        self.ids: dict[str, str] = {}
        self.org_status = "active"
        self.serve(Roster((), ()))

    def serve(self, roster: Roster) -> None:
        for person in roster.people:
            self.ids.setdefault(person.key, f"user-{len(self.ids) + 1:04d}")
        self.roster = roster
        self.service.serve_package(self._package(roster, self.brin6, self.ids, self.org_status))

    def fail(self, failure: Failure | None) -> bool:
        self.service.faults.clear()
        if failure is not None:
            kind = {"unreachable": "503", "refused": "403", "garbled": "garbled"}[failure]
            self.service.fault(Fault(kind, times=None))
        return True

    def set_consent(self, granted: bool) -> None:
        """The org listed as active or tobedeleted; the binding has no consent feed (None)."""
        self.org_status = "active" if granted else "tobedeleted"
        self.serve(self.roster)
