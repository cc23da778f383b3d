"""Reading docker-compose.yml, so the deployment test runs what the compose services run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def compose_command(name: str, **overrides: str) -> list[str]:
    """The koppel arguments of a compose service, with options replaced (``threads="1"``)."""
    args = list(service(name)["command"])
    for option, value in overrides.items():
        flag = "--" + option.replace("_", "-")
        args[args.index(flag) + 1] = value
    return args
