"""Settings that would quietly open the API stop the process with one line naming the variable:
trusted proxy networks wide enough to hold most of the Internet, tokens that can never match."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.errors import ConfigError
from core.settings import load_settings


def koppel_config(**env: str) -> subprocess.CompletedProcess[str]:
    """'koppel config' in a process of its own with these KOPPEL_* variables, as an operator
    would run it to check a deployment's environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KOPPEL_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", "config"],
        env={**clean, "KOPPEL_DATABASE_URL": "sqlite://", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused(result: subprocess.CompletedProcess[str], variable: str, says: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"{variable}:" in line and says in line, line


def test_trusted_proxies_for_the_whole_internet_stop_koppel_with_one_line():
    result = koppel_config(KOPPEL_TRUSTED_PROXIES='["10.1.0.0/16", "0.0.0.0/0"]')
    refused(result, "KOPPEL_TRUSTED_PROXIES", "'0.0.0.0/0' is wider than /8")
    assert "KOPPEL_TRUSTED_PROXIES_ALLOW_WIDE=true" in result.stderr


@pytest.mark.parametrize("wide", ["::/0", "10.0.0.0/7", "2000::/15"])
def test_trusted_proxy_networks_that_wide_are_refused(wide: str):
    # load_settings is what every koppel command reads its settings with
    with pytest.raises(ConfigError, match=f"KOPPEL_TRUSTED_PROXIES: .*'{wide}' is wider than"):
        load_settings(trusted_proxies=["10.1.0.0/16", wide])


def test_wide_trusted_proxies_only_with_the_explicit_override():
    result = koppel_config(
        KOPPEL_TRUSTED_PROXIES='["0.0.0.0/0"]', KOPPEL_TRUSTED_PROXIES_ALLOW_WIDE="true"
    )
    assert result.returncode == 0, result.stderr
    assert "KOPPEL_TRUSTED_PROXIES=['0.0.0.0/0']" in result.stdout
    assert koppel_config(KOPPEL_TRUSTED_PROXIES='["10.0.0.0/8", "fd00::/16"]').returncode == 0


def test_a_token_of_spaces_stops_koppel_with_one_line():
    result = koppel_config(KOPPEL_API_TOKENS='["                        "]')
    refused(result, "KOPPEL_API_TOKENS", "entry 1, token: every API token needs")


@pytest.mark.parametrize(
    ("tokens", "says"),
    [
        ('["aaaaaaaaaaaaaaaaaaaa", "\\tbbbbbbbbbbbbbbbbbbbbbb"]', "entry 2, token: "),
        ('["tøken-with-a-letter-no-header-carries"]', "visible ASCII"),
        ('["short"]', "at least 16 characters"),
        ('[{"token": "aaaaaaaaaaaaaaaaaaaa"}]', "entry 1, schools: Field required"),
        ('[{"token": "aaaaaaaaaaaaaaaaaaaa", "schools": []}]', "a token for no school"),
        ('[{"token": "aaaaaaaaaaaaaaaaaaaa", "schools": ["12AB"]}]', "'12AB' is not a BRIN6"),
        ('["aaaaaaaaaaaaaaaaaaaa", {"token": "aaaaaaaaaaaaaaaaaaaa", "schools": "all"}]', "twice"),
        ("[5]", 'entry 1: give a token as a string or as {"token"'),
    ],
)
def test_tokens_that_could_never_match_or_mean_two_things_are_refused(tokens, says):
    with pytest.raises(ConfigError) as refused_:
        load_settings(api_tokens=json.loads(tokens))
    assert "KOPPEL_API_TOKENS: " in str(refused_.value) and says in str(refused_.value)
    assert "aaaaaaaaaaaaaaaaaaaa" not in str(refused_.value)  # a token is never shown


def test_plain_and_scoped_tokens_together():
    tokens = '["aaaaaaaaaaaaaaaaaaaa", {"token": "bbbbbbbbbbbbbbbbbbbb", "schools": ["12ab00"]}]'
    result = koppel_config(KOPPEL_API_TOKENS=tokens)
    assert result.returncode == 0, result.stderr
    assert "schools=('12AB00',)" in result.stdout
    assert "aaaaaaaaaaaaaaaaaaaa" not in result.stdout
    assert "bbbbbbbbbbbbbbbbbbbb" not in result.stdout
