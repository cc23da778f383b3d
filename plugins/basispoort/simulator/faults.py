"""Fault injection: make the next N matching requests fail the way real servers fail."""

from __future__ import annotations

import re
import threading
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from plugins.basispoort.simulator.errors import InvalidFault

# What each kind does to the matching request's answer (all but 5xx answer 200):
# 5xx          503 with a plain-text body
# slow         waits ``seconds`` before answering
# truncated    Content-Length promises the whole body; half arrives, then the connection drops
# chunked_cut  chunked transfer encoding; half the body arrives, the connection drops before the
#              last chunk
# gzip_cut     gzip-encoded, the gzip stream cut in half; Content-Length matches what is sent, so
#              only the gzip stream shows that the body is incomplete
# gzip_bomb    gzip-encoded JSON that inflates to ``size`` bytes (400 MB unless given)
# trickle      the whole answer, status line and headers included, one byte every ``seconds``
# garbled      a whole body that is not JSON: half the body, then an HTML error page
# wrong_types  whole JSON with the wrong types (lists become objects, booleans words, ...)
FAULT_KINDS = (
    "5xx",
    "slow",
    "truncated",
    "chunked_cut",
    "gzip_cut",
    "gzip_bomb",
    "trickle",
    "garbled",
    "wrong_types",
)
BOMB_SIZE = 400_000_000


@dataclass(slots=True)
class Fault:
    """``kind`` fires on the next ``times`` requests whose path matches ``pattern`` (re.search)."""

    pattern: re.Pattern[str]
    kind: str
    times: int
    seconds: float = 1.0  # how long "slow" waits before answering; "trickle" between bytes
    size: int = BOMB_SIZE  # what "gzip_bomb" inflates to


class FaultSet:
    """The server's pending faults; thread-safe, first match wins, each clears once used up."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(
        self,
        path_regex: str,
        kind: str,
        times: int = 1,
        seconds: float = 1.0,
        size: int = BOMB_SIZE,
    ) -> Fault:
        """E.g. ``faults.add(r"/leerlingen$", "5xx", times=2)``; the path has a leading '/'."""
        if kind not in FAULT_KINDS:
            raise InvalidFault(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
        if times < 1 or seconds < 0 or size < 1:
            raise InvalidFault(
                "times and size must be at least 1 and seconds not negative: "
                f"{times}, {size}, {seconds}"
            )
        try:
            pattern = re.compile(path_regex)
        except re.error as exc:
            raise InvalidFault(
                f"path pattern {path_regex!r} is not a regular expression: {exc}"
            ) from None
        fault = Fault(pattern, kind, times, seconds, size)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The fault that fires for this request, if any (counting it down)."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)


def garble(body: bytes) -> bytes:
    """Not JSON any more: cut short and followed by what a broken proxy might send."""
    return body[: len(body) // 2] + b"<html><body>Bad Gateway</body></html>"


def gzip_cut(body: bytes) -> bytes:
    """The body gzip-compressed, the compressed stream cut in half (its end marker missing)."""
    compressed = zlib.compress(body, wbits=31)
    return compressed[: len(compressed) // 2]


@lru_cache(maxsize=2)
def gzip_bomb(size: int) -> bytes:
    """A gzip stream of a JSON object that inflates to ``size`` bytes (400 MB: about 400 KB).

    Made once per size: compressing 400 MB takes a second or two.
    """
    head, tail = b'{"bomb":"', b'"}'
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(head)]
    left = max(size - len(head) - len(tail), 0)
    block = b"0" * (1 << 20)
    while left:
        piece = block[:left] if left < len(block) else block
        parts.append(compressor.compress(piece))
        left -= len(piece)
    parts += [compressor.compress(tail), compressor.flush()]
    return b"".join(parts)


def chunked(body: bytes) -> bytes:
    """The body in HTTP/1.1 chunked transfer encoding (64 KB chunks) without the last chunk."""
    step = 1 << 16
    return b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
        for i in range(0, len(body), step)
    )


def wrong_types(payload: Any) -> Any:
    """The same data with the wrong JSON types: lists become objects, booleans words, ..."""
    if isinstance(payload, dict):
        return {key: _wrong(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return {"items": payload}
    if isinstance(payload, str):
        return 12345
    return [payload]


def _wrong(value: Any) -> Any:
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, dict):
        return list(value.values())
    return value
