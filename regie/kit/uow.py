"""The unit of work: one database transaction plus the domain events raised inside it.

Lives apart from ``database`` (engine, sessions, column types) and ``events`` (the bus), so
that neither of those imports the other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from regie.kit.database import Database
from regie.kit.events import DomainEvent, EventBus


class UnitOfWork:
    """One database transaction plus the domain events raised inside it.

    Events are dispatched to their subscribers *inside* the transaction, just before
    commit, so that whatever another package does in reaction (an outbox row, a receipt
    number, a ledger entry) commits or rolls back with the state change that caused it.
    """

    def __init__(self, session: AsyncSession, bus: EventBus) -> None:
        self.session = session
        self.bus = bus
        self._events: list[DomainEvent] = []
        self._last: list[Callable[[], Awaitable[None]]] = []

    def publish(self, ev: DomainEvent) -> None:
        self._events.append(ev)

    async def flush_events(self) -> None:
        while self._events:
            ev = self._events.pop(0)
            await self.bus.dispatch(self, ev)

    def last(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` at commit, after every event was dispatched, just before the
        commit itself: where a gap-free counter is incremented, so that its row lock is
        held for the least time (the steps run in the order they were given)."""
        self._last.append(step)

    async def commit(self) -> None:
        await self.flush_events()
        while self._last:
            await self._last.pop(0)()
        await self.session.commit()


@asynccontextmanager
async def unit_of_work(db: Database, bus: EventBus) -> AsyncIterator[UnitOfWork]:
    """``async with unit_of_work(db, bus) as uow: …; await uow.commit()``.

    Leaving the block without ``commit`` rolls everything back.
    """
    async with db.sessionmaker() as session:
        uow = UnitOfWork(session, bus)
        try:
            yield uow
        except BaseException:
            await session.rollback()
            raise
