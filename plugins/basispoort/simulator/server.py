"""The simulator over HTTP(S): a threaded stdlib server with mutual TLS and fault injection."""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import structlog

from plugins.basispoort.simulator.control import answer_control
from plugins.basispoort.simulator.errors import UnknownSchool
from plugins.basispoort.simulator.faults import (
    Fault,
    FaultSet,
    chunked,
    garble,
    gzip_bomb,
    gzip_cut,
    wrong_types,
)
from plugins.basispoort.simulator.idp import DEEP_LINK, SimulatorIdp, refusal_page
from plugins.basispoort.simulator.pki import TLSFiles
from plugins.basispoort.simulator.routes import Reply, answer_api
from plugins.basispoort.simulator.service_providers import RequestRefused
from plugins.basispoort.simulator.world import World

log = structlog.get_logger()

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 60.0  # a keep-alive connection with no request for this long is closed
MAX_LINE = 65536  # bytes in a header line, as the stdlib allows
MAX_HEADERS = 100


def server_ssl_context(tls: TLSFiles) -> ssl.SSLContext:
    """TLS 1.2 only, as upstream; a client certificate from the test CA is required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(tls.server_cert), str(tls.server_key))
    context.load_verify_locations(cafile=str(tls.ca))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class SimulatorServer:
    """Serves a World as Basispoort does. ``ipadressen`` turns the assumed endpoint on.

    ``faults`` injects failures; ``tamper`` serves malformed data; ``hits`` counts requests by
    "METHOD /path" (no query), so tests can see what a client asked for. Use as a context
    manager, or start() and stop().
    """

    def __init__(
        self,
        world: World,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TLSFiles | None = None,
        *,
        ipadressen: bool = False,
    ) -> None:
        self.world = world
        self.host = host
        self.port = port
        self.tls = tls
        self.ipadressen = ipadressen
        self.faults = FaultSet()
        self._tampering: list[tuple[re.Pattern[str], Callable[[Any], Any]]] = []
        self.hits: Counter[str] = Counter()
        self.failed_handshakes = 0
        self.idp = SimulatorIdp(world)
        self._hits_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. https://127.0.0.1:PORT/ (paths such as rest/v2/... go after it)."""
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/"

    def start(self) -> SimulatorServer:
        context = server_ssl_context(self.tls) if self.tls else None
        self._httpd = _HTTPServer((self.host, self.port), self, context)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"basispoort-sim:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def wait(self) -> None:
        """Block until the server has stopped (the CLI waits here until interrupted)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def tamper(self, path_regex: str, change: Callable[[Any], Any]) -> None:
        """Serve each 200 JSON answer whose path matches as ``change(payload)`` returns it.

        ``change`` gets a copy (the world stays as it is) and may return any JSON value: data
        the world cannot hold (a number as a name, a stamp in year 9999), until
        ``stop_tampering()``. E.g. ``server.tamper(r"/details$", lambda d: {**d, "naam": 5})``.
        """
        with self._hits_lock:
            self._tampering.append((re.compile(path_regex), change))

    def stop_tampering(self) -> None:
        with self._hits_lock:
            self._tampering.clear()

    def _tampered(self, path: str, reply: Reply) -> Reply:
        with self._hits_lock:
            changes = [change for pattern, change in self._tampering if pattern.search(path)]
        if not changes or reply.status != 200 or not reply.is_json:
            return reply
        payload = copy.deepcopy(reply.payload)
        for change in changes:
            payload = change(payload)
        return Reply(reply.status, payload)

    def count_failed_handshake(self) -> None:
        with self._hits_lock:
            self.failed_handshakes += 1

    def answer(self, method: str, target: str, body: bytes) -> tuple[Reply, Fault | None]:
        """The reply to one request and the fault to apply to it, if one fires."""
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        if path.startswith("/_sim/"):
            return answer_control(self.world, self.faults, method, path, query, body), None
        if path == DEEP_LINK or path.startswith("/idp/"):
            return self._answer_idp(method, path, query, split.query, body), None
        with self._hits_lock:
            self.hits[f"{method} {path}"] += 1
        fault = self.faults.take(path)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "5xx":
            return Reply(503, text="Service tijdelijk niet beschikbaar"), None
        reply = answer_api(self.world, method, path, query, body, self.ipadressen)
        reply = self._tampered(path, reply)
        return reply, fault

    def _answer_idp(
        self, method: str, path: str, query: dict[str, list[str]], raw_query: str, body: bytes
    ) -> Reply:
        """The identity provider's pages (see idp.py): deep link, SSO, people, sign-in, metadata
        and the certificate that signs it."""
        page = "text/html"
        try:
            if method == "GET" and path == DEEP_LINK:
                return Reply(200, text=self.idp.deep_link(query), media=page)
            if method == "GET" and path == "/idp/sso":
                return Reply(200, text=self.idp.authn_request(query, raw_query), media=page)
            if method == "GET" and path == "/idp/people":
                return Reply(200, text=self.idp.people(query), media=page)
            if method == "POST" and path == "/idp/sign-in":
                form = parse_qs(body.decode(), keep_blank_values=True)
                return Reply(200, text=self.idp.sign_in(self.url, form), media=page)
            if method == "GET" and path == "/idp/metadata":
                metadata = self.idp.metadata(self.url).decode()
                return Reply(200, text=metadata, media="application/samlmetadata+xml")
            if method == "GET" and path == "/idp/signer.pem":
                return Reply(200, text=self.idp.certificate_pem(), media="application/x-pem-file")
        except RequestRefused as refused:
            return Reply(refused.status, text=refusal_page(refused), media=page)
        except (UnknownSchool, ValueError, KeyError, zlib.error):
            return Reply(400, text="Onbekende school, persoon of onleesbaar verzoek")
        return Reply(404, text="Niet gevonden")


class _HTTPServer(ThreadingHTTPServer):
    """One thread per connection; the TLS handshake happens in that thread, not in accept()."""

    daemon_threads = True
    request_queue_size = 256  # a national run opens many connections at once

    def __init__(
        self, address: tuple[str, int], sim: SimulatorServer, context: ssl.SSLContext | None
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sim = sim
        self._context = context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = request
        if self._context is not None:
            request.settimeout(HANDSHAKE_TIMEOUT)
            try:
                connection = self._context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                self.sim.count_failed_handshake()  # no, or a foreign, client certificate
                return
        with self._open_lock:
            self._open.add(connection)
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            with self._open_lock:
                self._open.discard(connection)
            if connection is not request:
                with contextlib.suppress(OSError):
                    connection.close()

    def close_connections(self) -> None:
        """Hang up on keep-alive connections, so a stopped server really stops answering."""
        with self._open_lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up is normal here; the default prints a traceback


class _Headers(dict[str, str]):
    """Request headers by lower-cased name (a repeated header keeps its last value)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a national run reuses its TLS connections
    server_version = "basispoort-sim"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    disable_nagle_algorithm = True
    # Buffered: the status line, headers and a body up to this size leave in one write (one TLS
    # record), as a production server sends them; handle_one_request flushes after each reply.
    wbufsize = 64 * 1024
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: no line per request on stderr

    def parse_request(self) -> bool:
        """The request line and headers of an HTTP/1.x request; on a bad one, 400 and False.

        The stdlib's own parse_request hands the headers to the email package, which cost a
        tenth of the simulator's CPU per request in a national run; this reads them as lines.
        No HTTP/0.9 and no ``Expect: 100-continue`` (Basispoort's clients send neither).
        """
        self.command = None  # send_error reads these
        self.request_version = "HTTP/1.0"  # so that even an error reply has a status line
        self.close_connection = True
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            self.send_error(400, "Bad request line")
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = str(line, "iso-8859-1").partition(":")
            if len(line) > MAX_LINE or not colon or not name or name != name.strip():
                self.send_error(400, "Bad header line")
                return False
            headers[name.lower()] = value.strip()
        else:
            self.send_error(431, "Too many headers")
            return False
        self.headers = headers  # type: ignore[assignment]
        connection = headers.get("connection", "").lower()
        keep = self.request_version == "HTTP/1.1" or connection == "keep-alive"
        self.close_connection = connection == "close" or not keep
        return True

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            reply, fault = self.server.sim.answer(self.command, self.path, body)
        except Exception as exc:  # a simulator bug must not look like a hung server
            # The type and the path (ids only) say enough; messages could carry request data.
            log.error("simulator_failed", error=type(exc).__name__, path=urlsplit(self.path).path)
            reply, fault = Reply(500, text="Interne fout in de simulator"), None
        kind = None if fault is None else fault.kind
        data = _encode(reply)
        if kind == "garbled":
            data = garble(data)
        elif kind == "wrong_types" and reply.is_json:
            data = _json_bytes(wrong_types(reply.payload))
        elif kind == "gzip_cut":
            data = gzip_cut(data)
        elif kind == "gzip_bomb":
            data = gzip_bomb(fault.size)  # type: ignore[union-attr]
        if kind == "trickle":
            self._trickle(reply, data, fault.seconds)  # type: ignore[union-attr]
            return
        self.send_response(reply.status)
        if kind in ("gzip_cut", "gzip_bomb"):
            self.send_header("Content-Encoding", "gzip")
        if reply.status != 204:
            media = reply.media or ("application/json" if reply.is_json else "text/plain")
            self.send_header("Content-Type", f"{media};charset=UTF-8")
            if kind == "chunked_cut":
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(data)))
        if kind in ("truncated", "chunked_cut"):
            # Half of what the headers promise arrives, then the connection drops.
            self.send_header("Connection", "close")
            self.end_headers()
            half = data[: len(data) // 2]
            self.wfile.write(chunked(half) if kind == "chunked_cut" else half)
            self.close_connection = True
            return
        self.end_headers()
        self.wfile.write(data)

    def _trickle(self, reply: Reply, data: bytes, seconds: float) -> None:
        """The whole answer, status line and headers included, one byte every ``seconds``,
        until it is sent or the client hangs up."""
        media = "application/json" if reply.is_json else "text/plain"
        head = (
            f"HTTP/1.1 {reply.status} Trickle\r\nContent-Type: {media};charset=UTF-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
        )
        self.close_connection = True
        with contextlib.suppress(OSError):
            for byte in memoryview(head.encode() + data):
                self.wfile.write(bytes((byte,)))
                self.wfile.flush()
                time.sleep(seconds)


def _encode(reply: Reply) -> bytes:
    if reply.status == 204:
        return b""
    if reply.text is not None:
        return reply.text.encode()
    return _json_bytes(reply.payload)


def _json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON by orjson: the bytes json.dumps wrote, about ten times faster.

    The same bytes for these payloads, which hold no floats (tests/basispoort compares them).
    """
    try:
        return orjson.dumps(payload)
    except TypeError:
        # orjson refuses what json accepts, e.g. integers beyond 64 bits or non-string keys;
        # such a payload (a control endpoint's, or a fault's) still goes out as before.
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
