"""Settings of the core, read from KOPPEL_* environment variables (pydantic-settings)."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.api_token import ApiToken
from core.errors import ConfigError
from core.login.client_address import WIDEST_PREFIX

AnySettings = TypeVar("AnySettings", bound=BaseSettings)

DATABASE_URLS = "sqlite:///FILE or postgresql+psycopg://user:password@host/database"


class Settings(BaseSettings):
    """Everything the core needs; plugins read their own settings with their own prefix."""

    model_config = SettingsConfigDict(env_prefix="KOPPEL_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///koppel.db",
        description="SQLAlchemy URL; a SQLite file in the working directory by default.",
    )
    broker_url: str | None = Field(
        default=None, description="amqp:// URL of RabbitMQ; unset means the in-process broker."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        default="auto",
        description="Log lines as JSON, as readable console lines, or auto: console on a "
        "terminal, JSON otherwise. Logs go to stderr.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="The least severe log lines shown by the long-running commands (scheduler, "
        "worker, api); setting it also applies to the other commands, which otherwise show "
        "WARNING and worse (or INFO with --verbose).",
    )
    disabled_plugins: list[str] = Field(
        default_factory=list, description="Entry-point names of plugins not to load."
    )
    lease_seconds: int = Field(
        default=60,
        ge=10,
        description="How long a worker's claim on a school lasts unless renewed: a running sync "
        "renews it every third of this, so the schools of a worker that died are free again "
        "within this long, however long the time limit.",
    )
    # The nightly run (workers/ and scheduler.py); see docs/deployment.md.
    queue_prefix: str = Field(
        default="koppel.",
        pattern=r"^[a-zA-Z_][a-zA-Z0-9._-]*$",
        description="Prefix of every RabbitMQ queue koppel declares (one per deployment).",
    )
    sync_time_limit_seconds: float = Field(
        default=300, gt=0, description="A sync message is interrupted after this long."
    )
    sync_max_retries: int = Field(
        default=5, ge=0, description="Retries of a sync whose source was unavailable."
    )
    sync_min_backoff_seconds: float = Field(
        default=30, gt=0, description="Delay before the first retry of a failed sync."
    )
    sync_max_backoff_seconds: float = Field(
        default=600,
        gt=0,
        description="The longest delay between retries (the delay doubles up to it); must "
        "stay below the broker's consumer timeout.",
    )
    broker_consumer_timeout_seconds: int = Field(
        default=1800,
        gt=0,
        description="RabbitMQ's consumer_timeout: no message may stay unacknowledged this long.",
    )
    worker_prefetch: int = Field(
        default=2,
        ge=1,
        description="Messages a worker fetches per thread from each queue, the running one "
        "included (RabbitMQ's prefetch); more saves broker round trips, but a fetched message "
        "may wait longer unacknowledged.",
    )
    scheduler_window_start: str = Field(
        default="01:00",
        pattern=r"^\d{2}:\d{2}(:\d{2})?$",
        description="Local time, HH:MM[:SS], when the night's first slot starts.",
    )
    scheduler_window_end: str = Field(
        default="05:00",
        pattern=r"^\d{2}:\d{2}(:\d{2})?$",
        description="Local time, HH:MM[:SS], when the night's last slot ends; before the start "
        "means the next day.",
    )
    scheduler_timezone: str = Field(
        default="Europe/Amsterdam",
        description="The schools' time zone: the nightly window, the safety season and the "
        "times the commands print are reckoned in it.",
    )
    scheduler_slot_seconds: float = Field(
        default=60, gt=0, description="The window is cut into slots; each is claimed once."
    )
    scheduler_poll_seconds: float = Field(
        default=5, gt=0, description="How often the scheduler looks for slots that are due."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port on which 'koppel worker' (all its processes together), 'koppel "
        "scheduler' and 'koppel api' serve Prometheus metrics (/metrics); unset: none. A "
        "--metrics-port option wins.",
    )
    # Logins (core/login, api/): who may call the API, which proxies to believe, what to shadow.
    api_access_log: bool = Field(
        default=False,
        description="Log one line per HTTP request (uvicorn's access log) from 'koppel api'. "
        "Off by default: every login already logs its own line (login_evaluated), and request "
        "counts and times per route are in the metrics.",
    )
    api_processes: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes of one 'koppel api' serving its one port (uvicorn's workers; "
        "--processes wins). Python runs one process on one core: set it to the container's "
        "cores. Each has its own threads and database connections (KOPPEL_API_THREADS + 4 "
        "each); metrics add up all of them.",
    )
    api_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="Requests one 'koppel api' process works on at once (its thread pool, and "
        "as many pooled database connections); more wait their turn. More threads only take "
        "turns at Python's lock (docs/benchmarks.md, 'Logins'). Connection checks, which wait "
        "on the identity source, have threads of their own.",
    )
    api_tokens: list[ApiToken] = Field(
        default_factory=list,
        description="Bearer tokens the LVS uses for the HTTP API, a JSON list; empty means "
        "'koppel api' refuses to start. Each is a token for all schools "
        '(\'"<token>"\') or one for some schools (\'{"token": "<token>", "schools": '
        '["12AB00"]}\'); a token is at least 16 visible ASCII characters (no spaces).',
    )
    trusted_proxies_allow_wide: bool = Field(
        default=False,
        description="Allow KOPPEL_TRUSTED_PROXIES networks wider than /8 (IPv4) or /16 (IPv6): "
        "every address in them may then claim any client address.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Networks (JSON list of CIDRs or addresses) of the proxies in front of the "
        "LVS (for the evaluate API) and of koppel's own sign-in pages; only their forwarding "
        "headers are believed.",
    )
    proxy_header: Literal["x-forwarded-for", "forwarded"] = Field(
        default="x-forwarded-for",
        description="The header the trusted proxies append to; the other one is ignored, since "
        "only a client could have set it.",
    )
    login_shadow_policies: list[str] = Field(
        default_factory=list,
        description="Login policies (by name) that only record what they would deny.",
    )

    # Pages and single sign-on (api/web, api/sso, api/oidc): where browsers reach koppel.
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The address browsers and the LVS reach koppel at: scheme, host and port, "
        "no path (e.g. https://koppel.example.nl). The base of the SAML service provider's "
        "addresses, the OpenID Connect issuer and the links in koppel's pages.",
    )
    web_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the pages' session cookies, at least 32 characters; every "
        "'koppel api' replica needs the same one. Unset: a random key per process, so "
        "sign-ins end when it restarts and do not carry over between replicas.",
    )
    web_admin_roles: list[str] = Field(
        default_factory=lambda: ["ICTCoordinator", "Directeur"],
        min_length=1,
        description="Staff roles (as the identity source names them, JSON list; case does not "
        "matter) that make a person who signs in through Basispoort an administrator of their "
        "own school's Basispoort tab.",
    )
    # The operator's console (api/console, core/operators.py).
    operator_password_min_length: int = Field(
        default=12, ge=8, description="Fewest characters an operator's password may have."
    )
    operator_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins in a row after which an operator's account is locked.",
    )
    operator_lockout_minutes: int = Field(
        default=15, ge=1, description="How long a locked operator account refuses every sign-in."
    )
    operator_failure_delay_seconds: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="Pause before the answer to a failed sign-in, so passwords cannot be "
        "guessed quickly.",
    )
    # OpenID Connect provider for the LVS (api/oidc, core/oidc; docs/sso.md).
    oidc_default_idp: str = Field(
        default="basispoort",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$",
        description="The identity provider an LVS's sign-in goes to when its authorization "
        "request names none (the idp_hint parameter names one).",
    )
    oidc_sign_in_seconds: int = Field(
        default=600,
        ge=60,
        le=3600,
        description="How long an LVS's authorization request waits for the person to sign in "
        "at the identity provider; later, the LVS has to start again.",
    )
    oidc_code_seconds: int = Field(
        default=60,
        ge=5,
        le=60,
        description="How long a one-time authorization code may be redeemed (at most 60 s).",
    )
    oidc_token_seconds: int = Field(
        default=300,
        ge=60,
        le=3600,
        description="Lifetime of an id_token and an access token; a retired signing key stays "
        "in the JWKS this long (plus 5 minutes for clocks that differ) after it stopped signing.",
    )
    oidc_broker_session_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="After a sign-in the identity provider started (Basispoort's deep link), "
        "how long the browser may take to reach the LVS, which then gets its code without a "
        "second sign-in. Used once.",
    )
    oidc_key_encryption_key: SecretStr | None = Field(
        default=None,
        description="The key that encrypts the id_token signing keys koppel stores in its "
        "database (a Fernet key: 32 random bytes, URL-safe base64; make one with python -c "
        "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'). "
        "Every replica needs the same. To replace it, give the new key first and the old one "
        "after it, separated by a comma, run 'koppel oidc keys encrypt', then drop the old one. "
        "Unset: signing keys are stored unencrypted (docs/sso.md).",
    )
    # The SAML service provider (core/saml, api/sso).
    sso_clock_skew_seconds: int = Field(
        default=60,
        ge=0,
        le=600,
        description="How far an identity provider's clock may differ from koppel's when an "
        "assertion's validity (NotBefore, NotOnOrAfter) is checked.",
    )
    sso_max_post_bytes: int = Field(
        default=256 * 1024,
        ge=4096,
        description="Largest sign-in post (SAMLResponse) accepted at /sso/{idp}/acs; a larger "
        "one is refused before it is parsed. A signed assertion is a few kilobytes.",
    )
    sso_request_seconds: int = Field(
        default=600,
        ge=60,
        description="How long a sign-in koppel started (its AuthnRequest id) may take to come "
        "back from the identity provider.",
    )
    sso_metadata_seconds: int = Field(
        default=3600,
        ge=60,
        description="How long an identity provider's metadata (its certificates and addresses) "
        "read from a file or URL is kept before it is read again.",
    )
    sso_signing_key: Path | None = Field(
        default=None,
        description="One PEM file holding koppel's own RSA private key (unencrypted, at least "
        "2048 bits; readable only by koppel) and its certificate: it signs the AuthnRequests "
        "koppel sends (HTTP-Redirect binding, rsa-sha256), and the certificate is published in "
        "koppel's SP metadata. Every replica needs the same file. Unset: AuthnRequests are "
        "sent unsigned. An identity provider that wants them unsigned says so in its own "
        "setting (e.g. KOPPEL_BASISPOORT_SSO_SIGN_REQUESTS=false).",
    )
    sso_next_signing_key: Path | None = Field(
        default=None,
        description="While replacing KOPPEL_SSO_SIGNING_KEY: one PEM file like it (key and "
        "certificate) holding the key that will sign next. It signs nothing; its certificate is "
        "published in koppel's SP metadata after the current one, so identity providers know it "
        "before the switch. Swap the files once they have re-read the metadata, then unset this "
        "(docs/sso.md, 'Replacing the signing key'). Needs KOPPEL_SSO_SIGNING_KEY, and another "
        "key than it.",
    )

    # Sync safety (core/sync/budget.py): a plan over these limits is held for a person to decide.
    safety_tombstone_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Share of a kind (pupils, staff, groups) one sync "
        "may remove before its plan is held.",
    )
    safety_tombstone_min: int = Field(
        default=5, ge=0, description="Removals always allowed, whatever the share (small schools)."
    )
    safety_update_share: float = Field(
        default=0.50, ge=0, le=1, description="Share of a kind one sync may update (1: no limit)."
    )
    safety_update_min: int = Field(
        default=10, ge=0, description="Updates always allowed, whatever the share."
    )
    safety_window_days: int = Field(
        default=7, ge=0, description="Removals over this many days count together (0: off)."
    )
    safety_window_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Share of a kind all syncs in the window may remove together (counted "
        "since the school's last approved plan).",
    )
    safety_season_start: str = Field(
        default="07-15",
        pattern=r"^\d{2}-\d{2}$",
        description="MM-DD (local date): first day of the school-year rollover, when the "
        "season's raised limits apply.",
    )
    safety_season_end: str = Field(
        default="08-31", pattern=r"^\d{2}-\d{2}$", description="MM-DD: the season's last day."
    )
    safety_season_tombstone_share: float = Field(
        default=0.35, ge=0, le=1, description="Replaces the tombstone and window shares in season."
    )
    safety_season_update_share: float = Field(
        default=1.0, ge=0, le=1, description="Replaces the update share in season (1: no limit)."
    )
    # Consent lifecycle (core/retention.py).
    retention_days: int = Field(
        default=0, ge=0, description="Days after a revocation before personal data is purged."
    )
    purge_rewrite_tables: bool = Field(
        default=True,
        description="After a purge on PostgreSQL, rewrite the tables that held the purged values "
        "(VACUUM FULL: logins and syncs wait for it, about 2 s per 100,000 pupils), so none "
        "stays in their files; false: plain VACUUM, which leaves the bytes in free space until "
        "they are overwritten (see docs/privacy.md).",
    )
    # History retention (core/prune.py): rows older than this are deleted by the daily job.
    login_audit_retention_days: int = Field(
        default=90,
        ge=1,
        description="Days a login audit row (denials: person id, client address) is kept.",
    )
    sync_run_retention_days: int = Field(
        default=400,
        ge=30,
        description="Days a sync run is kept; a school's latest run of each outcome and runs "
        "of held plans are always kept.",
    )
    scheduler_tick_retention_days: int = Field(
        default=30, ge=2, description="Days a claimed scheduler tick (a night's slot) is kept."
    )
    operator_audit_retention_days: int = Field(
        default=365,
        ge=1,
        description="Days a row of the console's audit (Logboek: operator, action, target) is "
        "kept.",
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str) -> str:
        try:
            backend = make_url(url).get_backend_name()
        except ArgumentError:
            raise ValueError(f"not a database URL; use {DATABASE_URLS}") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                f"koppel runs on SQLite or PostgreSQL, not {backend}; use {DATABASE_URLS}"
            )
        return url

    @field_validator("scheduler_window_start", "scheduler_window_end")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a time of day (HH:MM or HH:MM:SS, e.g. 01:00)"
            ) from None
        return value

    @field_validator("scheduler_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (e.g. Europe/Amsterdam)") from None
        return name

    @field_validator("sync_run_retention_days")
    @classmethod
    def _runs_outlive_the_window(cls, days: int, info: ValidationInfo) -> int:
        # The safety check adds up the removals of the window's runs: they must still be there.
        window = info.data.get("safety_window_days")
        if window is not None and days <= window:
            raise ValueError(f"must be longer than KOPPEL_SAFETY_WINDOW_DAYS ({window})")
        return days

    @field_validator("public_url")
    @classmethod
    def _base_address(cls, url: str) -> str:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"{url!r} is not an http(s) address such as https://koppel.example.nl")
        if parsed.path not in ("", "/") or parsed.query or parsed.fragment:
            raise ValueError(f"{url!r} has a path or query: give scheme, host and port only")
        return f"{parsed.scheme}://{parsed.netloc}"

    @field_validator("web_secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError(
                "is shorter than 32 characters; make one with "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return secret

    @field_validator("oidc_key_encryption_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        from cryptography.fernet import Fernet  # only when set: it costs every command ~40 ms

        for number, part in enumerate(value.get_secret_value().split(","), start=1):
            try:
                Fernet(part.strip())
            except ValueError:
                raise ValueError(
                    f"key {number} is not a Fernet key (32 bytes in URL-safe base64); make one "
                    "with python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'"
                ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The schools' time zone: nights, seasons and calendar days are reckoned in it."""
        return ZoneInfo(self.scheduler_timezone)

    @field_validator("api_tokens", mode="wrap")
    @classmethod
    def _tokens_valid_and_distinct(
        cls, value: object, handler: ValidatorFunctionWrapHandler
    ) -> list[ApiToken]:
        try:
            tokens: list[ApiToken] = handler(value)
        except ValidationError as exc:
            # One line naming the entry: "KOPPEL_API_TOKENS: entry 2, schools: ..."
            raise ValueError(
                "; ".join(
                    f"{_entry(err['loc'])}{err['msg'].removeprefix('Value error, ')}"
                    for err in exc.errors()
                )
            ) from None
        secrets = [t.token.get_secret_value() for t in tokens]
        if len(set(secrets)) < len(secrets):
            raise ValueError("an API token is listed twice: give each token once, with its schools")
        return tokens

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, entries: list[str], info: ValidationInfo) -> list[str]:
        # strict: "10.0.0.1/8" is more likely a typo than a wish to trust all of 10/8
        networks = []
        for entry in entries:
            try:
                network = ip_network(entry.strip(), strict=True)
            except ValueError:
                raise ValueError(f"{entry!r} is not a network such as 10.0.0.0/8") from None
            widest = WIDEST_PREFIX[network.version]
            if network.prefixlen < widest and not info.data.get("trusted_proxies_allow_wide"):
                # A proxy network this wide lets most of the Internet claim any client address.
                raise ValueError(
                    f"{entry!r} is wider than /{widest}, so almost any peer could say where a "
                    "login comes from: list only your proxies' own networks (or set "
                    "KOPPEL_TRUSTED_PROXIES_ALLOW_WIDE=true if every address in it is yours)"
                )
            networks.append(str(network))
        return networks

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(ip_network(e) for e in self.trusted_proxies)


def _entry(loc: tuple[int | str, ...]) -> str:
    """'entry 2, schools: ' for the location (1, 'schools') inside a list setting."""
    if not loc or not isinstance(loc[0], int):
        return ""
    return ", ".join([f"entry {loc[0] + 1}", *(str(part) for part in loc[1:])]) + ": "


def read_settings(cls: type[AnySettings], **overrides: object) -> AnySettings:
    """Read ``cls`` from the environment; a failure is one ConfigError naming the variable.

    Plugins read their own settings classes through this too, so every misconfiguration reads
    the same way whoever owns the variable.
    """
    prefix = str(cls.model_config.get("env_prefix", ""))
    try:
        return cls(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
    except SettingsError as exc:  # a list or dict variable that is not JSON
        field = re.search(r'field "(\w+)"', str(exc))
        variable = f"{prefix}{field.group(1)}".upper() if field else f"a {prefix}* variable"
        raise ConfigError(
            f"invalid configuration: {variable} is not valid JSON",
            hint=f'list settings are JSON, e.g. {variable}=\'["a", "b"]\'',
        ) from None


def load_settings(**overrides: object) -> Settings:
    """Read the core's settings (see read_settings)."""
    return read_settings(Settings, **overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
