"""The nights chart as shapes: a stacked bar of outcomes and a point for the duration, per night.

The template draws them as inline SVG (no script, no inline style: colours come from
console.css by class), so the page is a picture without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.models import Outcome
from core.nights import Night

# Stacked from the bottom; the classes are the outcomes' colours in console.css.
ORDER = (
    Outcome.SUCCEEDED,
    Outcome.UNCHANGED,
    Outcome.SKIPPED,
    Outcome.HELD,
    Outcome.FAILED,
    Outcome.RUNNING,
)
WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 844, 16, 210


@dataclass(frozen=True, slots=True)
class Segment:
    outcome: str
    count: int
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class NightShape:
    night: Night
    x: float  # the bar's left edge
    width: float
    centre: float
    segments: list[Segment]
    point_y: float | None  # the duration's point; None when the night has no finished run


@dataclass(frozen=True, slots=True)
class Chart:
    nights: list[NightShape]
    most_runs: int  # the left axis' top
    most_minutes: int  # the right axis' top
    line: str  # the duration points joined, as an SVG polyline's points
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    bottom: int = BOTTOM


def nights_chart(nights: list[Night]) -> Chart:
    most_runs = _round_up(max((n.runs for n in nights), default=0))
    most_minutes = _round_up(int(max((n.minutes or 0 for n in nights), default=0)) + 1)
    slot = (RIGHT - LEFT) / max(len(nights), 1)
    plot = BOTTOM - TOP
    shapes: list[NightShape] = []
    for i, night in enumerate(nights):
        x = LEFT + i * slot + slot * 0.15
        base = float(BOTTOM)
        segments = []
        for outcome in ORDER:
            count = night.outcomes.get(outcome, 0)
            if count:
                height = plot * count / most_runs
                base -= height
                segments.append(Segment(outcome, count, round(base, 1), round(height, 1)))
        minutes = night.minutes
        point = None if minutes is None else round(BOTTOM - plot * minutes / most_minutes, 1)
        shapes.append(
            NightShape(
                night, round(x, 1), round(slot * 0.7, 1), round(x + slot * 0.35, 1), segments, point
            )
        )
    line = " ".join(f"{s.centre},{s.point_y}" for s in shapes if s.point_y is not None)
    return Chart(shapes, most_runs, most_minutes, line)


def _round_up(value: int) -> int:
    """A readable axis top at or above ``value``: 1, 2, 5, 10, 20, 50, ..."""
    top = 1
    while top < value:
        top = _next(top)
    return top


def _next(top: int) -> int:
    digits = str(top)
    lead, zeros = int(digits[0]), len(digits) - 1
    return {1: 2, 2: 5}.get(lead, 10) * 10**zeros
