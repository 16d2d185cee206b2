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

Hook = Callable[[AsyncSession], Awaitable[None]]


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
        self._before_commit: list[Hook] = []
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    def publish(self, ev: DomainEvent) -> None:
        self._events.append(ev)

    def before_commit(self, hook: Hook) -> None:
        self._before_commit.append(hook)

    def after_commit(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(hook)

    async def flush_events(self) -> None:
        while self._events:
            ev = self._events.pop(0)
            await self.bus.dispatch(self, ev)

    async def commit(self) -> None:
        await self.flush_events()
        for hook in self._before_commit:
            await hook(self.session)
        self._before_commit.clear()
        await self.session.commit()
        hooks, self._after_commit = self._after_commit, []
        for after in hooks:
            await after()


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
