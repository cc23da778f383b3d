"""Everything a run says: structlog events, standard log records and the exceptions it raised."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog


@dataclass
class Said:
    """What was logged (rendered as text) and the exceptions seen, in order."""

    lines: list[str] = field(default_factory=list)
    exceptions: list[BaseException] = field(default_factory=list)

    def texts(self) -> Iterator[tuple[str, str]]:
        """(where, text) for each log line and each exception (its message and its repr)."""
        for line in self.lines:
            yield "log line", line
        for exc in self.exceptions:
            yield f"{type(exc).__name__} message", f"{exc}\n{exc!r}"

    def leaks(self, personal: frozenset[str]) -> list[str]:
        """Where personal data showed: "log line 3" and the like, never the value itself."""
        found = []
        for n, (where, text) in enumerate(self.texts(), start=1):
            lowered = text.casefold()
            if any(value.casefold() in lowered for value in personal):
                found.append(f"{where} #{n} ({_first_words(text)})")
        return found


def _first_words(text: str) -> str:
    """The event name or exception class, to say which line leaked without repeating it."""
    return text.split(" ", 1)[0].split("\n", 1)[0][:40]


class _Handler(logging.Handler):
    def __init__(self, said: Said) -> None:
        super().__init__(logging.DEBUG)
        self.said = said

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.said.lines.append(f"{record.name} {text}")


@contextmanager
def capturing() -> Iterator[Said]:
    """Capture every structlog event (exceptions rendered) and standard log record meanwhile."""
    said = Said()

    def keep(_logger: Any, method: str, event: dict[str, Any]) -> Any:
        said.lines.append(f"{event.get('event')} {event!r}")
        raise structlog.DropEvent

    # In place, as structlog.testing.capture_logs does: loggers cached on first use (a koppel
    # process's configure(cache=True)) keep the list object, not the configuration.
    processors = structlog.get_config()["processors"]
    saved = processors.copy()
    processors[:] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.format_exc_info,
        keep,
    ]
    root = logging.getLogger()
    handler, level = _Handler(said), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield said
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        processors[:] = saved
