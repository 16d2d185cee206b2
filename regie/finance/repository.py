"""The signed-out sessions (``models.SignedOutSession``): queries only; the caller owns the
transaction."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from regie.finance.models import SignedOutSession

TABLE = SignedOutSession.__table__  # type: ignore[attr-defined]


def session_hash(csrf: str) -> str:
    """A session's identity as stored: the SHA-256 of its CSRF token, never the token."""
    return hashlib.sha256(csrf.encode()).hexdigest()


async def sign_out(
    s: AsyncSession, csrf: str, key_id: str, now: dt.datetime, expires_at: dt.datetime
) -> None:
    """The session is refused from now on (a second sign-out of it changes nothing)."""
    postgres = (await s.connection()).dialect.name == "postgresql"
    insert = postgresql.insert if postgres else sqlite.insert
    await s.execute(
        insert(TABLE)
        .values(
            session_hash=session_hash(csrf), key_id=key_id, signed_out_at=now,
            expires_at=expires_at,
        )
        .on_conflict_do_nothing(index_elements=["session_hash"])
    )  # fmt: skip


async def is_signed_out(s: AsyncSession, csrf: str) -> bool:
    found = await s.execute(
        select(TABLE.c.session_hash).where(TABLE.c.session_hash == session_hash(csrf))
    )
    return found.first() is not None


async def prune_signed_out(s: AsyncSession, now: dt.datetime) -> int:
    """Deletes the rows of sessions past their absolute end; returns how many."""
    result = await s.execute(
        delete(SignedOutSession).where(col(SignedOutSession.expires_at) <= now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
