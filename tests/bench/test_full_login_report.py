"""bench/full_login.lua's report read back: each login's seconds, the id_tokens, the errors."""

from __future__ import annotations

import pytest

from bench.login_rate import parse_full_logins, tokens_in

WRK_SUMMARY = """Running 2s test @ http://127.0.0.1:8000
  1 threads and 1 connections
  300 requests in 2.00s, 0.5MB read
Requests/sec:    150.00
"""


def report(*lines: str) -> str:
    return WRK_SUMMARY + "\n".join(lines) + "\n"


def test_logins_per_second_and_percentiles_come_from_the_login_lines() -> None:
    logins = [f"login {n / 1000:.6f}" for n in range(1, 101)]  # 1..100 ms
    figures = parse_full_logins(report(*logins, "errors 2"))
    assert figures.requests == 100
    assert figures.seconds == 2.0
    assert figures.requests_per_second == 50.0  # logins, not wrk's requests
    assert figures.p50_ms == 50.0
    assert figures.p99_ms == 99.0
    assert figures.errors == 2


def test_a_run_where_no_login_succeeded_stops_with_koppels_answer() -> None:
    with pytest.raises(SystemExit, match="step 0: 403 refused"):
        parse_full_logins(report("failed step 0: 403 refused", "errors 7"))


def test_a_report_without_its_error_count_is_refused() -> None:
    with pytest.raises(SystemExit, match="did not parse"):
        parse_full_logins(report("login 0.010000"))


def test_the_sampled_tokens_pair_with_their_nonces() -> None:
    out = report("token eyJ.a.b nonce-1", "token eyJ.c.d nonce-2", "login 0.01", "errors 0")
    assert tokens_in(out) == [("eyJ.a.b", "nonce-1"), ("eyJ.c.d", "nonce-2")]
