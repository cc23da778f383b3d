"""What 'koppel doctor' checks: each says what it found, or raises what is wrong and what to do."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from core.errors import ConfigError, KoppelError
from core.settings import get_settings

if TYPE_CHECKING:
    from core.saml.signing import SpSigningKeys

# A client certificate that expires sooner than this is a problem now: renewing takes time.
CERT_WARNING = dt.timedelta(days=30)


class Verdict(StrEnum):
    OK = "ok"
    PROBLEM = "problem"
    UNUSED = "unused"  # not configured, and not needed by this set-up
    SKIPPED = "skipped"  # not checked: something it needs has a problem


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    verdict: Verdict
    text: str


class Unused(Exception):
    """Raised by a check whose part is not configured (the message says what is used instead)."""


def findings() -> Iterator[Finding]:
    """Every check in order; one whose prerequisite has a problem is skipped, saying which."""
    failed: set[str] = set()
    for name, check, needs in CHECKS:
        blocked = [need for need in needs if need in failed]
        if blocked:
            failed.add(name)
            yield Finding(name, Verdict.SKIPPED, f"not checked: fix the {blocked[0]} first")
            continue
        try:
            yield Finding(name, Verdict.OK, check())
        except Unused as exc:
            yield Finding(name, Verdict.UNUSED, str(exc))
        except KoppelError as exc:
            failed.add(name)
            yield Finding(name, Verdict.PROBLEM, str(exc))


def check_settings() -> str:
    """Every KOPPEL_* variable parses (the plugins' too)."""
    from cli.config_cmd import settings_classes
    from core.settings import read_settings

    for cls in settings_classes():
        read_settings(cls)
    return "every KOPPEL_* variable is valid"


def check_consistency() -> str:
    """The settings agree with each other (the workers' timing rules, the window, the season)."""
    from workers.timing import check_timing

    settings = get_settings()
    check_timing(settings)
    if settings.scheduler_window_start == settings.scheduler_window_end:
        raise ConfigError(
            "KOPPEL_SCHEDULER_WINDOW_START and KOPPEL_SCHEDULER_WINDOW_END are equal, so the "
            "nightly window is empty",
            hint="set the end after the start, e.g. 01:00 and 05:00",
        )
    _season_day("KOPPEL_SAFETY_SEASON_START", settings.safety_season_start)
    _season_day("KOPPEL_SAFETY_SEASON_END", settings.safety_season_end)
    if not settings.api_tokens:
        return "consistent (no KOPPEL_API_TOKENS: 'koppel api' would refuse to start)"
    return "consistent"


def check_database() -> str:
    """The database answers and holds the schema this koppel expects."""
    from core.probes import database_engine, require_schema

    settings = get_settings()
    engine = database_engine(settings.database_url)
    try:
        revision = require_schema(engine)
    finally:
        engine.dispose()
    return f"{engine.url.render_as_string(hide_password=True)} at revision {revision}"


def check_broker() -> str:
    """RabbitMQ accepts a connection, when one is configured."""
    from core import probes

    url = get_settings().broker_url
    if not url:
        raise Unused("KOPPEL_BROKER_URL is not set: messages stay in the process that sends them")
    probes.check_broker(url)
    return "RabbitMQ accepts connections"


def check_certificate() -> str:
    """The client certificate is readable, holds its key, and is not about to expire."""
    from cryptography import x509

    from plugins.basispoort.settings import load_basispoort_settings

    settings = load_basispoort_settings()
    if settings.base_url().startswith("http://"):
        raise Unused("plain http (a simulator): no client certificate is used")
    pem = settings.client_pem()
    settings.ca_bundle()
    try:
        certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    except ValueError:
        raise ConfigError(f"KOPPEL_BASISPOORT_CERT ({pem}) holds no readable certificate") from None
    expires = certificate.not_valid_after_utc
    left = expires - dt.datetime.now(dt.UTC)
    if left <= CERT_WARNING:
        when = "expired" if left.total_seconds() <= 0 else f"expires in {left.days} days"
        raise ConfigError(
            f"the client certificate in {pem} {when} ({expires:%Y-%m-%d})",
            hint="ask Basispoort for a new certificate and put it in KOPPEL_BASISPOORT_CERT",
        )
    return f"{pem} valid until {expires:%Y-%m-%d}"


def check_sign_in_keys() -> str:
    """koppel's SAML signing keys (current, next) load; every stored id_token signing key
    decrypts."""
    from sqlalchemy.orm import Session

    from core.oidc.keys import check_stored_keys
    from core.probes import database_engine
    from core.saml.signing import load_signing_keys

    settings = get_settings()
    keys = load_signing_keys(settings.sso_signing_key, settings.sso_next_signing_key)
    if keys is None:
        requests = "AuthnRequests unsigned (KOPPEL_SSO_SIGNING_KEY unset)"
    else:
        requests = f"AuthnRequests signed with {settings.sso_signing_key}"
        requests += _certificate_dates(keys)
    if keys is not None and keys.next is not None:
        requests += (
            f", next key {settings.sso_next_signing_key} published beside it "
            "(swap the files once the identity providers have re-read the metadata)"
        )
    engine = database_engine(settings.database_url)
    try:
        with Session(engine) as session:
            stored, encrypted = check_stored_keys(session, settings)
    finally:
        engine.dispose()
    if stored == encrypted:
        return f"{requests}; {stored} id_token signing key(s), all encrypted"
    return (
        f"{requests}; {stored - encrypted} of {stored} id_token signing key(s) NOT encrypted "
        "(set KOPPEL_OIDC_KEY_ENCRYPTION_KEY, run 'koppel oidc keys encrypt')"
    )


# A signing certificate this close to its end is reported: replacing it takes the identity
# providers' time to re-read koppel's metadata (docs/sso.md, "Replacing the signing key").
EXPIRY_WARNING = dt.timedelta(days=30)


def _certificate_dates(keys: SpSigningKeys) -> str:
    """When the signing certificate ends, or ConfigError when it (or the next one) has ended."""
    from core.saml.signing import NEXT_SETTING, SETTING

    now = dt.datetime.now(dt.UTC)
    for setting, key in ((SETTING, keys.current), (NEXT_SETTING, keys.next)):
        if key is not None and key.expires <= now:
            raise ConfigError(
                f"the certificate in {setting} expired on {key.expires:%Y-%m-%d}; identity "
                "providers that check its dates refuse what it signs",
                hint="make a new key and replace it (docs/sso.md, 'Replacing the signing key')",
            )
    ends = keys.current.expires
    if ends - now < EXPIRY_WARNING:
        return (
            f" (its certificate expires on {ends:%Y-%m-%d}, in {(ends - now).days} days: "
            f"publish the next key now, {NEXT_SETTING})"
        )
    return f" (certificate valid until {ends:%Y-%m-%d})"


def check_search() -> str:
    """Basispoort's school search answers (one request, no retries)."""
    from plugins.basispoort.client import BasispoortClient
    from plugins.basispoort.settings import load_basispoort_settings

    settings = load_basispoort_settings(retries=0)
    with BasispoortClient(settings) as client:
        client.nawsearch(brincode="00AA00")  # any answer will do; no school has this BRIN
    return f"the school search at {settings.base_url()} answers"


def check_plugins() -> str:
    """The installed plugins load, and which identity sources and login policies they give."""
    from core.plugins import get_plugins

    plugins = get_plugins()
    sources = ", ".join(sorted(plugins.sources)) or "none"
    policies = ", ".join(sorted(p.name for p in plugins.login_policies)) or "none"
    return f"identity sources: {sources}; login policies: {policies}"


def _season_day(variable: str, value: str) -> None:
    month, day = (int(part) for part in value.split("-"))
    try:
        dt.date(2024, month, day)  # a leap year: 02-29 is a day
    except ValueError:
        raise ConfigError(f"{variable} ({value}) is not a day of the year (MM-DD)") from None


SETTINGS = "settings"
CERTIFICATE = "basispoort certificate"
# (name, check, the checks it needs to have passed)
CHECKS: list[tuple[str, Callable[[], str], tuple[str, ...]]] = [
    (SETTINGS, check_settings, ()),
    ("settings together", check_consistency, (SETTINGS,)),
    ("database", check_database, (SETTINGS,)),
    ("broker", check_broker, (SETTINGS,)),
    ("plugins", check_plugins, (SETTINGS,)),
    ("sign-in keys", check_sign_in_keys, (SETTINGS, "database")),
    (CERTIFICATE, check_certificate, (SETTINGS,)),
    ("basispoort search", check_search, (SETTINGS, CERTIFICATE)),
]
