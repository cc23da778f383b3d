"""A sync's unit of work: the one object that commits or rolls back what a sync writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from core.db import AUTOCOMMIT, runs_in_autocommit


class UnitOfWork:
    """The transactions of one sync (as cosmicpython's unit_of_work): callers say what to do,
    this object commits or rolls back.

    Two kinds of work: ``step()`` blocks of one statement each (lease, checks, run records),
    committed as they end; and ``writing()``, one real transaction for the writes of people,
    committed only by ``commit()`` and rolled back when the block ends or raises without it.

    A worker's message runs its connection in autocommit (``for_message``): its many steps
    then cost one round trip each instead of three (BEGIN, statement, COMMIT), and a step is
    its own transaction already. This class is the only place that knows: elsewhere (SQLite,
    a session bound to an engine, a test's outer transaction) a step is one transaction,
    committed at its end.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    @staticmethod
    def for_message(connection: Connection) -> None:
        """Arrange a worker message's connection: autocommit on PostgreSQL, but inside
        ``writing()``. (SQLite keeps its explicit transactions: see core.db.make_engine.)"""
        if runs_in_autocommit(connection.dialect):
            connection.execution_options(isolation_level=AUTOCOMMIT)

    @contextmanager
    def step(self) -> Iterator[None]:
        """One-statement steps, committed at the end of the block (rolled back on an error)."""
        if _autocommit(self.session.bind):
            yield
            return
        try:
            yield
        except BaseException:
            self.session.rollback()
            raise
        self.session.commit()

    @contextmanager
    def writing(self) -> Iterator[UnitOfWork]:
        """One transaction for the block: what it does not commit is rolled back."""
        session = self.session
        bind = session.bind
        switched = _autocommit(bind)
        if switched:
            assert isinstance(bind, Connection)
            session.commit()  # the isolation level changes only between transactions
            bind.execution_options(isolation_level=bind.default_isolation_level)
        try:
            yield self
        finally:
            if session.in_transaction():
                session.rollback()
            if switched:
                bind.execution_options(isolation_level=AUTOCOMMIT)

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def _autocommit(bind: object) -> bool:
    """Is ``bind`` a PostgreSQL connection put in autocommit by ``for_message``?"""
    return (
        isinstance(bind, Connection)
        and runs_in_autocommit(bind.dialect)
        and bind.get_execution_options().get("isolation_level") == AUTOCOMMIT
    )
