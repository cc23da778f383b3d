"""Reading a running service's Prometheus metrics."""

from __future__ import annotations

import re

import httpx


def scrape(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).raise_for_status().text
    except httpx.HTTPError:
        return None


def sample(text: str, name: str) -> float | None:
    """The value of the sample ``name`` (with its labels, as Prometheus prints them)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None
