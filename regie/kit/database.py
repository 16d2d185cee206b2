"""Async database access: engine, sessions, the unit of work and portable column types.

SQLite (aiosqlite) is the embedded default for one process; PostgreSQL (asyncpg) is the
production database that several API replicas and workers share.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import DateTime, event, inspect, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from regie.kit.logging import without_argument_value
from regie.kit.writer_turns import WriterTurns

# how long a SQLite writer waits for the write lock: for its turn among this process's
# writers (``WriterTurns``), then in SQLite's busy handler for another process's
_SQLITE_WAIT_SECONDS = 30


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
        # hide_parameters: a failing statement's error (and any SQL log line) never carries
        # its values, which are payers' names, emails and pay tokens
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": _SQLITE_WAIT_SECONDS}
        else:
            # no pool_pre_ping: on asyncpg it costs three round trips per checkout (BEGIN,
            # an empty query, ROLLBACK); _drop_closed below costs none
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.engine.dialect.name == "postgresql":
            event.listen(self.engine.sync_engine, "checkout", _drop_closed)
            event.listen(self.engine.sync_engine, "handle_error", _without_row_values)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            self._turns = WriterTurns(self.engine.sync_engine, _SQLITE_WAIT_SECONDS)
            # let BEGIN IMMEDIATE take the write lock up front: no deadlocking upgrades
            event.listen(self.engine.sync_engine, "begin", self._sqlite_begin)
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

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only session of one transaction that reads the database as it was when
        it opened, whatever commits meanwhile: for a read of many statements that must be
        of one moment (an export read by pages). On PostgreSQL a REPEATABLE READ, READ ONLY
        transaction; on SQLite a deferred one (``BEGIN``, not ``BEGIN IMMEDIATE``: in WAL
        mode it reads as of its first read and takes no write lock, writers go on). Its
        connection is the pool's, given back (isolation reset) when it ends."""
        async with self.engine.connect() as conn:
            if self.is_postgres:
                conn = await conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            else:
                conn = await conn.execution_options(**{_READ_SNAPSHOT: True})
            async with AsyncSession(bind=conn, expire_on_commit=False) as s:
                # the snapshot is taken here (SQLite's at the first read of the file)
                first = "SELECT 1" if self.is_postgres else "SELECT count(*) FROM sqlite_master"
                await s.execute(text(first))
                yield s
                await s.rollback()

    def _sqlite_begin(self, conn: Any) -> None:
        if conn.get_execution_options().get(_READ_SNAPSHOT):
            conn.exec_driver_sql("BEGIN")  # deferred: a reader takes no write lock, no turn
            return
        self._turns.begin(conn)  # BEGIN IMMEDIATE after the writers that asked before it

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _drop_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """A pooled connection the server has closed (a restart, an idle-session kill: the
    driver has read the server's goodbye) is replaced at checkout: the pool opens another
    one. Costs no round trip, unlike a ping."""
    driver = getattr(dbapi_conn, "driver_connection", None)
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    # aiosqlite: take control of transactions ourselves (see Database._sqlite_begin)
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={_SQLITE_WAIT_SECONDS * 1000}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    # SQLite's own lower() folds ASCII letters only, so a search (``ilike``: lower() on both
    # sides) for "LEFÈVRE" missed "Lefèvre", which PostgreSQL finds. No index or constraint
    # uses lower(): replacing it changes no stored value.
    dbapi_conn.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# the execution option of a connection whose transaction only reads (``Database.snapshot``)
_READ_SNAPSHOT = "regie_read_snapshot"


def _without_row_values(context: Any) -> None:
    """PostgreSQL's DETAIL quotes the values of the row it refused (``Failing row contains
    (…)``: a payer's name, email and address, a pay token) or of a key (``Key (…)=(…)``),
    and asyncpg's exception, the first of the chain a traceback prints, carries it:
    ``hide_parameters`` hides the statement's values, not these. The DETAIL is dropped
    from the exceptions of the chain; the message, which names the constraint, stays.

    asyncpg's own ``DataError``, raised before the statement is sent when a value cannot be
    encoded for its parameter's type, quotes the value in its message (``invalid input for
    query argument $3: 'Zoé Dupré' (…)``), and so do the messages wrapping it, SQLAlchemy's
    included: the value is replaced by ``***`` there (the argument's number and the reason
    stay), so that neither a log line, a traceback nor an error shown carries it."""
    error: BaseException | None = context.original_exception
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "detail", None):
            error.detail = None  # type: ignore[attr-defined]
        _without_argument_value(error)
        error = error.__cause__ or error.__context__
    if context.sqlalchemy_exception is not None:
        _without_argument_value(context.sqlalchemy_exception)


def _without_argument_value(error: BaseException) -> None:
    args = tuple(without_argument_value(a) if isinstance(a, str) else a for a in error.args)
    if args != error.args:
        error.args = args


def is_unique_violation(exc: IntegrityError) -> bool:
    msg = str(exc.orig).lower()
    return "unique" in msg or "duplicate key" in msg


def row_of(obj: Any) -> dict[str, Any]:
    """The column values of a mapped object, by column name, for a Core INSERT of an object
    built but never added to a session (hot paths write without the ORM's unit of work).
    A primary key left None is left out, for the database to number it."""
    row = {}
    for key, column in _columns_of(type(obj)):
        value = getattr(obj, key)
        if value is None and column.primary_key:
            continue
        row[column.name] = value
    return row


_COLUMNS: dict[type, list[tuple[str, Any]]] = {}


def _columns_of(cls: type) -> list[tuple[str, Any]]:
    found = _COLUMNS.get(cls)
    if found is None:
        attrs: Any = inspect(cls).column_attrs
        found = [(attr.key, attr.columns[0]) for attr in attrs]
        _COLUMNS[cls] = found
    return found
