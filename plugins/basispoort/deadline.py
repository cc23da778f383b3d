"""An overall deadline per request: every wait on the socket is cut to the time that is left."""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

# When the request running in this thread (context) must be done, by time.monotonic().
_DEADLINE: ContextVar[float | None] = ContextVar("basispoort_deadline", default=None)


class DeadlinePassed(Exception):
    """The request's deadline passed while it waited for the server."""


def start(seconds: float) -> object:
    """Begin a deadline for the requests sent from here on; give the result to ``end``."""
    return _DEADLINE.set(time.monotonic() + seconds)


def end(token: object) -> None:
    _DEADLINE.reset(token)  # type: ignore[arg-type]


def deadline_transport(**options: Any) -> httpx.HTTPTransport:
    """An httpx.HTTPTransport (given ``options``) whose connections keep the deadline.

    A read timeout bounds each wait, not the request: a server that sends one byte just
    before every timeout can hold a request for hours. httpx takes no network backend, so the
    one httpcore uses is wrapped on the pool httpx built, before any connection exists.
    """
    transport = httpx.HTTPTransport(**options)
    pool = transport._pool
    pool._network_backend = _Backend(pool._network_backend)
    return transport


def _left(timeout: float | None) -> float | None:
    """The timeout for the next wait: the given one, or less if the deadline comes first."""
    due = _DEADLINE.get()
    if due is None:
        return timeout
    left = due - time.monotonic()
    if left <= 0:
        raise DeadlinePassed
    return left if timeout is None or left < timeout else timeout


def _passed() -> bool:
    due = _DEADLINE.get()
    return due is not None and time.monotonic() >= due


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._stream.read(max_bytes, _left(timeout))
        except httpcore.ReadTimeout:
            if _passed():
                raise DeadlinePassed from None
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._stream.write(buffer, _left(timeout))
        except httpcore.WriteTimeout:
            if _passed():
                raise DeadlinePassed from None
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        connect = self._backend.connect_tcp
        return _Stream(connect(host, port, _left(timeout), local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(path, _left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
