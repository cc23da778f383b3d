"""A sync's unit of work: the one object that commits or rolls back what a sync writes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy.orm import Session

from core.db import single_statements, transaction


class UnitOfWork:
    """The transactions of one sync (as cosmicpython's unit_of_work): callers say what to do,
    this object commits or rolls back.

    Two kinds of work: ``step()`` blocks of one statement each (lease, checks, run records),
    committed as they end; and ``writing()``, one real transaction for the writes of people,
    committed only by ``commit()`` and rolled back when the block ends or raises without it.
    How that maps onto the session's connection is the adapter's business (core.db: a
    worker's message runs in autocommit, where a step is its own transaction already), not
    the caller's.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def step(self) -> AbstractContextManager[None]:
        """One-statement steps, committed at the end of the block (rolled back on an error)."""
        return single_statements(self.session)

    @contextmanager
    def writing(self) -> Iterator[UnitOfWork]:
        """One transaction for the block: what it does not commit is rolled back."""
        with transaction(self.session):
            try:
                yield self
            finally:
                if self.session.in_transaction():
                    self.session.rollback()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
