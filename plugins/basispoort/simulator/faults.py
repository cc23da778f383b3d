"""Fault injection: make the next N matching requests fail the way real servers fail."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from plugins.basispoort.simulator.errors import InvalidFault

FAULT_KINDS = ("5xx", "slow", "truncated", "garbled", "wrong_types")


@dataclass(slots=True)
class Fault:
    """``kind`` fires on the next ``times`` requests whose path matches ``pattern`` (re.search)."""

    pattern: re.Pattern[str]
    kind: str
    times: int
    seconds: float = 1.0  # how long "slow" waits before answering


class FaultSet:
    """The server's pending faults; thread-safe, first match wins, each clears once used up."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, path_regex: str, kind: str, times: int = 1, seconds: float = 1.0) -> Fault:
        """E.g. ``faults.add(r"/leerlingen$", "5xx", times=2)``; the path has a leading '/'."""
        if kind not in FAULT_KINDS:
            raise InvalidFault(f"unknown fault kind {kind!r}")
        if times < 1 or seconds < 0:
            raise InvalidFault(
                f"times must be at least 1 and seconds not negative: {times}, {seconds}"
            )
        try:
            pattern = re.compile(path_regex)
        except re.error as exc:
            raise InvalidFault(
                f"path pattern {path_regex!r} is not a regular expression: {exc}"
            ) from None
        fault = Fault(pattern, kind, times, seconds)
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
