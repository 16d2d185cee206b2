"""``Idempotency-Key`` for every mutating API call.

Semantics (README, "API"): the same key and the same request within the TTL replays the first
response; the same key with another request is 409 ``idempotency_key_reused``; a request
racing another one with the same key gets 409 ``idempotency_key_in_use`` and can retry.

How: the key is claimed in its own short transaction (a unique ``(scope, key)`` row in
state ``in_progress``), so a racer fails fast on the unique index instead of waiting. The
response is then stored by ``complete`` *inside the business transaction*, so the
effect and its recorded response commit together: a crash between them cannot leave an
effect without its replay, nor a replay without its effect. A business 4xx is stored too
(it replays); an unexpected failure (a 5xx, a cancelled request) releases the key so the
caller can retry, but only while no answer has committed: once the operation's transaction
stored one (a refund's reservation stores its 202 before the PSP is asked), its effect is
durable and the key replays it whatever happens next, never running the operation again.
An operation whose committed effect came to nothing can give its key back itself
(``Claim.release``: a refund the PSP refused).

A claim left unanswered past ``STALE_AFTER`` (its request crashed, or is still running) is
taken over by the next request with the key, which runs the operation itself. The request
that held it may still be running: its answer is stored only while the claim is still its
own (the UPDATE by the claim's id finds nothing otherwise), and ``complete`` then raises
409 ``idempotency_key_in_use``, rolling its transaction back, so the effect is made once.
A takeover deletes the claim only while it is unanswered: one whose answer is being
committed meanwhile replays it.

What must not be kept twice is left out of the stored response (``complete(withhold=…)``:
a webhook endpoint's secret lives sealed in its own row only), so a replay answers
without it; or, for personal data (an invoice's payer), a replay puts it back from where it
is kept (``run_idempotent(replay=…)``), so that the store holds none of it. Rows past their TTL are deleted by ``prune_expired`` (``regie maintenance
prune``, which the worker runs daily).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Executable, Text, UniqueConstraint, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel, col

from regie.kit.database import Database, UTCDateTime, utcnow
from regie.kit.errors import ApiError
from regie.kit.ids import new_id

STALE_AFTER = dt.timedelta(seconds=60)
MAX_KEY_LENGTH = 255


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: str = Field(primary_key=True, max_length=40)
    scope: str = Field(max_length=40)
    key: str = Field(max_length=MAX_KEY_LENGTH)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)  # in_progress | done
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_column=Column(Text))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


@dataclass(frozen=True)
class Claim:
    record_id: str

    async def complete(
        self,
        session: AsyncSession,
        status: int,
        body: Any,
        *,
        withhold: Mapping[str, Any] | None = None,
    ) -> None:
        """Store the response to replay. ``withhold`` replaces top-level fields of the
        stored copy (a secret: ``{"secret": None, "secret_note": "…"}``); the caller's own
        answer keeps them. Raises 409 ``idempotency_key_in_use`` when the claim is no longer
        this request's (``confirm``): the caller's transaction then rolls back."""
        self.confirm(
            len((await session.execute(self.completion(status, body, withhold=withhold))).all())
        )

    def confirm(self, stored: int) -> None:
        """After ``completion`` ran in the operation's transaction (``stored``: the rows it
        returned): none means the request outlived its claim's lease (``STALE_AFTER``) and
        another request with the key took it over, to run the operation itself. This one
        must then not commit its effect a second time: raising rolls its transaction back."""
        if not stored:
            raise ApiError(
                409,
                "idempotency_key_in_use",
                "Another request with this Idempotency-Key took it over while this one was"
                " running; this one changed nothing. Retry to get that request's answer.",
                type="idempotency_error",
                param="Idempotency-Key",
            )

    def completion(
        self,
        status: int,
        body: Any,
        *,
        withhold: Mapping[str, Any] | None = None,
        unanswered_only: bool = False,
    ) -> Executable:
        """``complete``'s UPDATE, for a caller that sends it with its own writes
        (``regie.kit.bulk.write_together``, as its ``counted`` statement, then ``confirm``).
        It returns the id of the row it answered: none when the claim is no longer this
        request's. ``unanswered_only``: never over an answer already stored (an error raised
        after the operation committed its own)."""
        if withhold:
            body = {**body, **withhold}
        table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
        stmt = update(table).where(table.c.id == self.record_id)
        if unanswered_only:
            stmt = stmt.where(table.c.state == "in_progress")
        return stmt.values(
            state="done", response_status=status, response_body=json.dumps(body)
        ).returning(table.c.id)

    async def release(self, session: AsyncSession) -> None:
        """Forget the key, even with an answer stored: for an operation whose committed
        effect came to nothing (a refund the PSP refused: nothing was refunded), so that the
        same request may be tried again. Never for an effect that may still take place."""
        await session.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == self.record_id)
        )


@dataclass(frozen=True)
class Stored:
    status: int
    body: Any


def fingerprint(method: str, path: str, payload: Any) -> str:
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str) -> str:
    if not (1 <= len(key) <= MAX_KEY_LENGTH) or not key.isascii() or not key.isprintable():
        raise ApiError(
            400,
            "idempotency_key_invalid",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            param="Idempotency-Key",
        )
    return key


async def claim(db: Database, scope: str, key: str, fp: str, ttl: dt.timedelta) -> Claim | Stored:
    """Claim ``(scope, key)`` in its own short transaction: one INSERT … ON CONFLICT DO NOTHING
    (SQLAlchemy Core, no unit of work); when the key is taken, what holds it decides."""
    table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
    dialect_insert = postgresql.insert if db.is_postgres else sqlite.insert
    for _ in range(3):
        now = utcnow()
        record_id = new_id("idem")
        stmt = (
            dialect_insert(table)
            .values(
                id=record_id, scope=scope, key=key, fingerprint=fp, state="in_progress",
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
        )  # fmt: skip
        # one statement on its own: on PostgreSQL autocommit spares the BEGIN and COMMIT
        # round trips (SQLite keeps its BEGIN IMMEDIATE transaction: one writer at a time)
        async with db.engine.connect() as plain:
            conn = plain
            if db.is_postgres:
                conn = await plain.execution_options(isolation_level="AUTOCOMMIT")
            inserted = (await conn.execute(stmt)).rowcount
            if not db.is_postgres:
                await conn.commit()
            if inserted:
                return Claim(record_id)
        async with db.engine.begin() as conn:
            existing = (
                await conn.execute(
                    select(
                        table.c.id, table.c.fingerprint, table.c.state, table.c.response_status,
                        table.c.response_body, table.c.created_at,
                    ).where(table.c.scope == scope, table.c.key == key)
                )
            ).first()  # fmt: skip
            if existing is None:
                continue  # released meanwhile: try again
            expired = existing.created_at < now - ttl
            # a claim whose request never answered is taken over by a retry of that very
            # request only: another body is a reuse of the key, as it was before the mark
            stale = (
                existing.state == "in_progress"
                and existing.created_at < now - STALE_AFTER
                and existing.fingerprint == fp
            )
            if expired or stale:
                takeover = delete(table).where(
                    table.c.id == existing.id, table.c.created_at == existing.created_at
                )
                if not expired:
                    # only while still unanswered: the request holding it may be storing its
                    # answer right now (PostgreSQL then makes this DELETE wait for its commit
                    # and looks at the row again), and an answer committed must replay
                    takeover = takeover.where(table.c.state == "in_progress")
                await conn.execute(takeover)
                continue
        if existing.fingerprint != fp:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was already used with a different request.",
                type="idempotency_error",
                param="Idempotency-Key",
            )
        if existing.state != "done" or existing.response_status is None:
            raise ApiError(
                409,
                "idempotency_key_in_use",
                "A request with this Idempotency-Key is in progress; retry in a moment.",
                type="idempotency_error",
                param="Idempotency-Key",
            )
        return Stored(existing.response_status, json.loads(existing.response_body or "null"))
    raise ApiError(
        409,
        "idempotency_key_in_use",
        "Could not claim the Idempotency-Key; retry.",
        type="idempotency_error",
    )


async def _store_error(db: Database, c: Claim, err: ApiError) -> None:
    """Store a 4xx to replay, unless the operation committed an answer before it."""
    async with db.session() as s:
        await s.execute(c.completion(err.status, err.body(), unanswered_only=True))
        await s.commit()


async def _release(db: Database, c: Claim) -> None:
    """Give the key back after a failure, only if no answer committed: an answer stored by
    the operation's transaction means its effect is durable (a refund reserved), and the
    key must replay it rather than let a retry make the effect a second time."""
    async with db.session() as s:
        await s.execute(
            delete(IdempotencyRecord).where(
                col(IdempotencyRecord.id) == c.record_id,
                col(IdempotencyRecord.state) == "in_progress",
            )
        )
        await s.commit()


async def prune_expired(db: Database, ttl: dt.timedelta, *, now: dt.datetime | None = None) -> int:
    """Delete the keys older than ``ttl`` (they replay no more); returns how many."""
    cutoff = (now or utcnow()) - ttl
    async with db.session() as s:
        result = await s.execute(
            delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff)
        )
        await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


Operation = Callable[[Claim | None], Awaitable[tuple[int, Any]]]
# what a replay does to a stored success before answering it (``run_idempotent``)
Replay = Callable[[Any], Awaitable[Any]]


async def run_idempotent(
    db: Database,
    *,
    scope: str,
    key: str | None,
    method: str,
    path: str,
    payload: Any,
    ttl: dt.timedelta,
    operation: Operation,
    replay: Replay | None = None,
) -> JSONResponse:
    """Run ``operation`` once per key; it must call ``claim.complete`` in its transaction.
    A failure after that transaction committed leaves the stored answer to replay.
    ``replay`` gives a stored success back what its ``withhold`` left out."""
    if key is None:
        status, body = await operation(None)
        return JSONResponse(body, status_code=status)
    got = await claim(db, scope, validate_key(key), fingerprint(method, path, payload), ttl)
    if isinstance(got, Stored):
        body = got.body
        if replay is not None and 200 <= got.status < 300:
            body = await replay(body)
        return JSONResponse(body, status_code=got.status, headers={"Idempotent-Replayed": "true"})
    try:
        status, body = await operation(got)
    except ApiError as err:
        if 400 <= err.status < 500:
            await _store_error(db, got, err)
        else:
            await _release(db, got)
        raise
    except BaseException:
        await _release(db, got)
        raise
    return JSONResponse(body, status_code=status)


# --- for routers: the header and the one call every mutating endpoint makes ---------------
IdempotencyKey = Annotated[
    str | None,
    # no max_length here: validate_key answers 400 in the one error shape
    Header(
        alias="Idempotency-Key",
        description=(
            "1 to 255 printable ASCII characters; the same key and body replay the first"
            " response for 24 h. Optional: without it the request runs each time it is sent"
            " (README, API)."
        ),
        # documented only: validate_key answers 400 in the one error shape
        json_schema_extra={"minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[ -~]+$"},
    ),
]


async def idempotent_post(
    request: Request,
    scope: str,
    key: str | None,
    payload: Any,
    operation: Operation,
    replay: Replay | None = None,
) -> JSONResponse:
    """``run_idempotent`` with what the request already says (database, path, TTL)."""
    return await run_idempotent(
        request.app.state.db,
        scope=scope,
        key=key,
        method=request.method,
        path=request.url.path,
        payload=payload,
        ttl=dt.timedelta(hours=request.app.state.settings.idempotency_ttl_hours),
        operation=operation,
        replay=replay,
    )
