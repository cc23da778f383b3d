"""The console's two doors to the workers' RabbitMQ: 'sync now' and the dead letters.

The same functions the CLI calls (workers/enqueue.py, workers/dead_letters.py), imported when
first used, as the CLI does: importing workers decides the process's broker.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import BrokerUnavailable, ConfigError


def send_now(school_id: int) -> str:
    """Queue a school's sync ahead of the nightly backlog; the message id."""
    from workers.broker import is_in_process
    from workers.enqueue import send_now as send

    if is_in_process():
        raise ConfigError(
            "'sync now' hands the school to the workers through RabbitMQ, and this koppel api "
            "has no KOPPEL_BROKER_URL",
            hint="set KOPPEL_BROKER_URL for 'koppel api', or run 'koppel sync BRIN6' on a "
            "machine that can reach Basispoort",
        )
    with _broker_errors():
        return str(send(school_id).message_id)


def dead_letters() -> Any:
    from workers.dead_letters import list_dead_letters

    with _broker_errors():
        return list_dead_letters()


def requeue(message_id: str) -> Any:
    from workers.dead_letters import requeue as put_back

    with _broker_errors():
        return put_back(message_id)


@contextmanager
def _broker_errors() -> Iterator[None]:
    """RabbitMQ away (or refusing) while asked: BrokerUnavailable, one sentence."""
    from dramatiq.errors import BrokerError
    from pika.exceptions import AMQPError

    try:
        yield
    except (BrokerError, AMQPError) as exc:
        raise BrokerUnavailable(f"RabbitMQ did not answer ({type(exc).__name__})") from None
