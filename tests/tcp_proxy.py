"""A TCP proxy in front of a real server that a test can cut, as if the server went down."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; ``cut()`` drops every connection and refuses
    new ones (a crash or a fast shutdown, seen from the client), ``restore()`` lets them in.

    ``cut_when``, given what a client sent (as one read), True drops that client's connection
    before it reaches the server: the server going down at one chosen step of a protocol.
    """

    def __init__(
        self, target: tuple[str, int], cut_when: Callable[[bytes], bool] | None = None
    ) -> None:
        self.target = target
        self.cut_when = cut_when
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._up = threading.Event()
        self._up.set()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def cut(self) -> None:
        self._up.clear()
        with self._lock:
            for sock in self._open:
                _shut(sock)
            self._open.clear()

    def restore(self) -> None:
        self._up.set()

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._up.is_set():
                _shut(client)  # the client reads EOF at once, as from a server going down
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                _shut(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink, cut_when in (
                (client, upstream, self.cut_when),
                (upstream, client, None),
            ):
                threading.Thread(target=_pump, args=(source, sink, cut_when), daemon=True).start()


def _pump(
    source: socket.socket, sink: socket.socket, cut_when: Callable[[bytes], bool] | None = None
) -> None:
    try:
        while data := source.recv(65536):
            if cut_when is not None and cut_when(data):
                break  # both ends are shut below, this data never sent
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _shut(source)
        _shut(sink)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def tcp_proxy(
    host: str, port: int, cut_when: Callable[[bytes], bool] | None = None
) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port), cut_when)
    try:
        yield proxy
    finally:
        proxy.close()


@contextmanager
def proxied_database(
    tmp_path: Path, cut_when: Callable[[bytes], bool] | None = None
) -> Iterator[tuple[TcpProxy, str]]:
    """A migrated PostgreSQL database of the test's own, and its URL through a cuttable proxy."""
    from sqlalchemy.engine import make_url

    from core import migrate
    from core.db import make_engine
    from tests.conftest import fresh_database_url

    url = make_url(fresh_database_url("postgres", tmp_path))
    direct = make_engine(url.render_as_string(hide_password=False))
    migrate.upgrade(direct)
    direct.dispose()
    with tcp_proxy(url.host or "127.0.0.1", url.port or 5432, cut_when) as proxy:
        yield (
            proxy,
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        )
