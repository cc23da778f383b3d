"""The CPU a full login cannot avoid: the SAML signature check and the id_token's signature.

python -m bench.login_floor [--rounds 300]

A full login (bench/full_login.py) is three HTTP requests, a signed SAML Response checked by
koppel's own verify_response (signxml on lxml), and an RS256 id_token signed with koppel's
signing key. This measures the last two in this process (CPU time per operation, median of
five batches), with the simulator's identity provider signing as Basispoort would (ECDSA
P-256) and, for comparison, with an RSA-2048 identity provider key. With the bare endpoint's
CPU per request from bench/logins, the floor of one login is printed: what no database work,
cache or rewrite below the HTTP framework can take away, and so the most logins per second
two cores could give if nothing else ran on them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import RSAKey

from core.saml.verify import Expected, verify_response
from plugins.basispoort.simulator.idp import SimulatorIdp
from plugins.basispoort.simulator.world import World

BASE = "https://idp.floor.test/"
SP = "https://koppel.floor.test"
ACS = f"{SP}/sso/basispoort/acs"


def cpu_ms(work: Callable[[], object], rounds: int) -> float:
    """Median over five batches of the CPU milliseconds ``work`` takes once."""
    batches = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(rounds):
            work()
        batches.append((time.process_time() - started) * 1000 / rounds)
    return statistics.median(batches)


def saml_check(idp: SimulatorIdp, rounds: int) -> float:
    """koppel's check of one signed Response, as the ACS makes it."""
    responses = [
        idp.response(
            BASE,
            target=ACS,
            audience=f"{SP}/sso/basispoort/metadata",
            in_response_to="",
            attributes={"instellingRef": "ref-1", "userId": str(n)},
        )
        for n in range(rounds)
    ]
    expected = Expected(
        idp="basispoort",
        idp_entity_id=idp.entity_id(BASE),
        certificates=(idp.certificate_pem(),),
        sp_entity_id=f"{SP}/sso/basispoort/metadata",
        acs_url=ACS,
        now=datetime.now(UTC),
        skew=timedelta(seconds=60),
    )
    posted = iter(responses * 5)
    return cpu_ms(lambda: verify_response(next(posted), expected), rounds)


def id_token(rounds: int) -> float:
    """One RS256 id_token with koppel's claims, signed with a 2048-bit key."""
    key = RSAKey.generate_key(2048, private=True)
    claims = {
        "iss": SP,
        "aud": "client",
        "sub": "x" * 43,
        "iat": 0,
        "exp": 300,
        "nonce": "n" * 22,
        "kind": "pupil",
        "person_id": 1,
        "brin6": "12AB00",
        "roles": ["pupil"],
        "groups": ["5A"],
    }
    return cpu_ms(lambda: jwt.encode({"alg": "RS256", "kid": "k"}, claims, key), rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument(
        "--bare-ms",
        type=float,
        default=0.75,
        help="the bare endpoint's API CPU per request from bench/logins (ms)",
    )
    args = parser.parse_args()
    ec_idp = SimulatorIdp(World(schools=1))
    rsa_idp = SimulatorIdp(World(schools=1), key=rsa.generate_private_key(65537, 2048))
    figures = {
        "SAML check, ECDSA P-256 IdP (the simulator's)": saml_check(ec_idp, args.rounds),
        "SAML check, RSA-2048 IdP": saml_check(rsa_idp, args.rounds),
        "RS256 id_token": id_token(args.rounds),
        "three bare HTTP requests (bench/logins)": 3 * args.bare_ms,
    }
    for what, ms in figures.items():
        print(f"{what:>48}: {ms:6.2f} ms CPU")
    floor = max(
        figures["SAML check, ECDSA P-256 IdP (the simulator's)"],
        figures["SAML check, RSA-2048 IdP"],
    )
    floor += figures["RS256 id_token"] + figures["three bare HTTP requests (bench/logins)"]
    print(
        f"{'floor of one full login':>48}: {floor:6.2f} ms CPU, at most "
        f"{2000 / floor:,.0f} logins/s on two cores with nothing else running on them"
    )


if __name__ == "__main__":
    main()
