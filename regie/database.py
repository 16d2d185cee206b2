"""Async database access: engine, sessions, the unit of work and portable column types.

SQLite (aiosqlite) is the embedded default for one process; PostgreSQL (asyncpg) is the
production database that several API replicas and workers share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from regie.events import DomainEvent, EventBus


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # let BEGIN IMMEDIATE take the write lock up front: no deadlocking upgrades
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as s:
            yield s

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    # aiosqlite: take control of transactions ourselves (see _sqlite_begin)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


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


def is_unique_violation(exc: IntegrityError) -> bool:
    msg = str(exc.orig).lower()
    return "unique" in msg or "duplicate key" in msg
