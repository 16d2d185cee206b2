"""Gap-free counters (invoice numbers now, receipt numbers later).

``next_value`` increments a ``(scope, period)`` row inside the caller's transaction: the
row lock serialises concurrent allocations and a rollback gives the number back, so the
series has no gaps and no duplicates.
"""

from __future__ import annotations

from sqlalchemy import UniqueConstraint, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col


class Sequence(SQLModel, table=True):
    __tablename__ = "number_sequences"
    __table_args__ = (UniqueConstraint("scope", "period", name="uq_sequence_scope_period"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=80)
    period: str = Field(max_length=16)
    last_value: int = 0


async def next_value(session: AsyncSession, scope: str, period: str) -> int:
    return await next_block(session, scope, period, 1)


async def next_block(session: AsyncSession, scope: str, period: str, count: int) -> int:
    """Allocate ``count`` consecutive values in ONE counter update; returns the first.

    The counter row stays locked until the caller's transaction ends, so call it last.
    """
    if count < 1:
        raise ValueError("count is at least 1")
    for _ in range(2):
        result = await session.execute(
            update(Sequence)
            .where(col(Sequence.scope) == scope, col(Sequence.period) == period)
            .values(last_value=col(Sequence.last_value) + count)
            .returning(col(Sequence.last_value))
        )
        value = result.scalar_one_or_none()
        if value is not None:
            return int(value) - count + 1
        try:
            async with session.begin_nested():
                session.add(Sequence(scope=scope, period=period, last_value=0))
        except IntegrityError:
            pass  # created concurrently: the UPDATE will now find it
    raise RuntimeError("could not allocate a sequence number")  # pragma: no cover
