"""The migrations build exactly the schema the models describe, on every backend."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core import migrate
from core.models import Base


def test_migrations_match_models(db_engine):
    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_at_head_and_repeatable(db_engine):
    migrate.upgrade(db_engine)  # a second upgrade is a no-op, not an error
    assert migrate.current(db_engine) == migrate.head()
