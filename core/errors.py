"""One exception hierarchy: every error a user can meet says what happened and what to do."""

from __future__ import annotations


class KoppelError(Exception):
    """Base of every error koppel raises on purpose.

    ``hint`` tells the reader what to do next. Messages carry ids and counts, never personal data.
    """

    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(KoppelError):
    """The configuration is missing or wrong; nothing was attempted."""

    hint = "check the KOPPEL_* environment variables (see README, 'Configuration')"


class SchoolNotFound(KoppelError):
    """koppel has no school with that BRIN and location code."""

    hint = "run 'koppel check BRIN6' first to link the school"


class SourceError(KoppelError):
    """The identity source failed; base for the kinds below."""


class SourceUnavailable(SourceError):
    """The source could not be reached or answered 5xx/timed out: worth retrying later."""

    hint = (
        "the source is down or slow; nightly and queued syncs retry by themselves, "
        "a command run by hand can be run again later"
    )


class SourceRefused(SourceError):
    """The source refused us (TLS, certificate, 401/403, 4xx): retrying will not help."""

    hint = "check the client certificate, the CA bundle and the environment URL"


class SourceDataError(SourceError):
    """The source answered with data that is not what its API promises; nothing was stored."""

    hint = "nothing was changed; the school keeps its last good data. Report the school id upstream"


class UnknownSource(KoppelError):
    """A school names an identity source that no installed plugin provides."""

    hint = "install the plugin that provides it; 'koppel doctor' lists the installed sources"


class SyncBusy(KoppelError):
    """Another worker holds the school's lease; this run did not start."""

    hint = "a sync for this school is already running; nothing to do"


class LeaseLost(KoppelError):
    """The lease on a school lapsed or was taken over before the run could commit."""

    hint = "the run was rolled back; the worker that holds the lease now completes the sync"


class PlanError(KoppelError):
    """A held plan cannot be approved or rejected as asked."""


class PlanStale(PlanError):
    """A stored sync plan no longer matches the school's data or the snapshot it is applied with."""

    hint = "nothing was changed; sync the school again to make a fresh plan"


class StorageError(KoppelError):
    """The database failed while a sync was applied; nothing of that run was kept."""

    hint = "the run was rolled back and is retried; the database log has the statement"


class DatabaseUnavailable(StorageError):
    """The database could not be opened or reached, or dropped the connection (an outage, a
    restart): worth retrying later, like a source that is down."""

    hint = (
        "check that the database is running and that KOPPEL_DATABASE_URL points to it; "
        "a sync it interrupted was rolled back and is retried once the database answers"
    )


class InternalError(KoppelError):
    """A bug: an unexpected exception, reported without the data it carried."""

    hint = "the run was rolled back; please report this with the run id"


class SchemaNotReady(KoppelError):
    """The database is reachable but does not hold this koppel's schema (yet)."""

    hint = "run 'koppel db upgrade' first"


class BrokerUnavailable(KoppelError):
    """RabbitMQ could not be reached; nothing was sent."""

    hint = "check that RabbitMQ is running and that KOPPEL_BROKER_URL points to it"
