"""Alembic environment: runs migrations on the connection or URL koppel hands it."""

from alembic import context

from core.db import make_engine
from core.models import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        _migrate(conn)
    engine.dispose()


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs ALTER TABLE done as copy-and-swap
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
