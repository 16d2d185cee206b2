"""``regie.kit.idempotency`` on its own: a bare SQLite file holding only its table, and a
clock the test sets, so the TTL and the stale mark are checked to the microsecond.

The HTTP behaviour (replays, 409s, scopes per service, concurrent posts) is tested through
the API in tests/payments/test_idempotency.py and test_idempotency_takeover.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel

from regie.kit import idempotency as idem
from regie.kit.database import Database
from regie.kit.errors import ApiError
from regie.kit.idempotency import (
    STALE_AFTER,
    Claim,
    IdempotencyRecord,
    Stored,
    claim,
    fingerprint,
    idempotent_post,
    run_idempotent,
    validate_key,
)

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(hours=24)
TICK = dt.timedelta(microseconds=1)
FP = fingerprint("POST", "/v1/invoices", {"amount": 2500})


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(idem, "utcnow", c)
    return c


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'idem.db'}")
    async with database.engine.begin() as conn:
        table = SQLModel.metadata.tables[IdempotencyRecord.__tablename__]
        await conn.run_sync(SQLModel.metadata.create_all, tables=[table])
    yield database
    await database.dispose()


async def rows(db: Database) -> list[tuple[str, str, str, int | None, Any]]:
    async with db.session() as s:
        found = (await s.execute(select(IdempotencyRecord))).scalars().all()
    return [
        (
            r.scope,
            r.key,
            r.state,
            r.response_status,
            r.response_body and json.loads(r.response_body),
        )
        for r in found
    ]


async def complete(db: Database, c: Claim, status: int, body: Any) -> None:
    async with db.session() as s:
        await c.complete(s, status, body)
        await s.commit()


def code_of(err: pytest.ExceptionInfo[ApiError]) -> tuple[int, str, str, str | None, str]:
    e = err.value
    return e.status, e.code, e.message, e.param, e.type


# ------------------------------------------------------------------ the key and the request
def test_the_fingerprint_is_the_sha256_of_the_canonical_request() -> None:
    canonical = '["POST","/v1/invoices",{"a":1,"b":[1,2]}]'
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint("POST", "/v1/invoices", {"b": [1, 2], "a": 1}) == expected
    assert fingerprint("POST", "/v1/invoices", {"a": 1, "b": [1, 2]}) == expected
    assert fingerprint("POST", "/v1/other", {"a": 1, "b": [1, 2]}) != expected
    assert fingerprint("PUT", "/v1/invoices", {"a": 1, "b": [1, 2]}) != expected
    assert fingerprint("POST", "/v1/invoices", {"a": 1, "b": [2, 1]}) != expected


@pytest.mark.parametrize("key", ["k", "a" * 255, "2026-03-01T12:00 order #7", "~!@$%^&*()"])
def test_keys_of_1_to_255_printable_ascii_characters_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize("key", ["", "a" * 256, "clé", "tab\there", "line\n", "\x00"])
def test_other_keys_are_400(key: str) -> None:
    with pytest.raises(ApiError) as refused:
        validate_key(key)
    assert code_of(refused) == (
        400,
        "idempotency_key_invalid",
        "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        "Idempotency-Key",
        "invalid_request_error",
    )


# ------------------------------------------------------------------ claims
async def test_a_key_is_claimed_once_then_busy_then_replays_its_answer(
    db: Database, clock: Clock
) -> None:
    first = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(first, Claim)
    assert await rows(db) == [("svc_1", "k1", "in_progress", None, None)]
    with pytest.raises(ApiError) as busy:
        await claim(db, "svc_1", "k1", FP, TTL)
    assert code_of(busy) == (
        409,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is in progress; retry in a moment.",
        "Idempotency-Key",
        "idempotency_error",
    )
    await complete(db, first, 201, {"id": "inv_1", "amount": 2500})
    assert await rows(db) == [("svc_1", "k1", "done", 201, {"id": "inv_1", "amount": 2500})]
    assert await claim(db, "svc_1", "k1", FP, TTL) == Stored(201, {"id": "inv_1", "amount": 2500})


async def test_the_same_key_with_another_request_is_409_reused_even_when_done(
    db: Database, clock: Clock
) -> None:
    c = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(c, Claim)
    other = fingerprint("POST", "/v1/invoices", {"amount": 2501})
    for _ in range(2):
        with pytest.raises(ApiError) as reused:
            await claim(db, "svc_1", "k1", other, TTL)
        assert code_of(reused) == (
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request.",
            "Idempotency-Key",
            "idempotency_error",
        )
        await complete(db, c, 201, {"id": "inv_1"})


async def test_a_key_belongs_to_its_scope(db: Database, clock: Clock) -> None:
    a = await claim(db, "svc_1", "k1", FP, TTL)
    b = await claim(db, "svc_2", "k1", FP, TTL)
    assert isinstance(a, Claim) and isinstance(b, Claim) and a != b
    await complete(db, a, 201, {"id": "inv_a"})
    await complete(db, b, 201, {"id": "inv_b"})
    assert await claim(db, "svc_1", "k1", FP, TTL) == Stored(201, {"id": "inv_a"})
    assert await claim(db, "svc_2", "k1", FP, TTL) == Stored(201, {"id": "inv_b"})
    assert isinstance(await claim(db, "svc_3", "k1", FP, TTL), Claim)


async def test_each_key_replays_its_own_answer(db: Database, clock: Clock) -> None:
    answers = {"k1": {"id": "inv_1"}, "k2": {"id": "inv_2"}, "k3": {"id": "inv_3"}}
    for key, body in answers.items():
        c = await claim(db, "svc_1", key, FP, TTL)
        assert isinstance(c, Claim)
        await complete(db, c, 201, body)
    for key, body in answers.items():
        assert await claim(db, "svc_1", key, FP, TTL) == Stored(201, body)


async def test_taking_over_a_key_leaves_the_other_keys_rows_alone(
    db: Database, clock: Clock
) -> None:
    """Rows claimed in the same microsecond: only the stale key's own row is replaced."""
    crashed = await claim(db, "svc_1", "k1", FP, TTL)
    done = await claim(db, "svc_1", "k2", FP, TTL)
    other_scope = await claim(db, "svc_2", "k1", FP, TTL)
    assert isinstance(done, Claim) and isinstance(other_scope, Claim)
    await complete(db, done, 201, {"id": "inv_2"})
    clock.now = T0 + STALE_AFTER + TICK
    taken = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(taken, Claim) and taken != crashed
    assert await claim(db, "svc_1", "k2", FP, TTL) == Stored(201, {"id": "inv_2"})
    assert sorted(await rows(db)) == [
        ("svc_1", "k1", "in_progress", None, None),
        ("svc_1", "k2", "done", 201, {"id": "inv_2"}),
        ("svc_2", "k1", "in_progress", None, None),
    ]


async def test_an_answer_replays_for_the_whole_ttl_and_not_a_microsecond_more(
    db: Database, clock: Clock
) -> None:
    c = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(c, Claim)
    await complete(db, c, 201, {"id": "inv_1"})
    for age in (STALE_AFTER, STALE_AFTER + TICK, TTL - TICK, TTL):
        clock.now = T0 + age
        assert await claim(db, "svc_1", "k1", FP, TTL) == Stored(201, {"id": "inv_1"}), age
    clock.now = T0 + TTL + TICK
    again = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(again, Claim) and again != c
    assert await rows(db) == [("svc_1", "k1", "in_progress", None, None)]
    # past its TTL a key is free for another request too
    clock.now = T0 + 2 * (TTL + TICK)
    assert isinstance(await claim(db, "svc_1", "k1", "another", TTL), Claim)


async def test_an_in_progress_claim_is_taken_over_only_past_the_stale_mark(
    db: Database, clock: Clock
) -> None:
    crashed = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(crashed, Claim)
    for age in (dt.timedelta(0), STALE_AFTER - TICK, STALE_AFTER):
        clock.now = T0 + age
        with pytest.raises(ApiError) as busy:
            await claim(db, "svc_1", "k1", FP, TTL)
        assert busy.value.code == "idempotency_key_in_use", age
    clock.now = T0 + STALE_AFTER + TICK
    taken = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(taken, Claim) and taken != crashed
    assert len(await rows(db)) == 1


async def test_a_done_row_without_its_answer_is_still_in_use(db: Database, clock: Clock) -> None:
    async with db.session() as s:
        s.add(
            IdempotencyRecord(
                id="idem_x", scope="svc_1", key="k1", fingerprint=FP, state="done", created_at=T0
            )
        )
        await s.commit()
    with pytest.raises(ApiError) as busy:
        await claim(db, "svc_1", "k1", FP, TTL)
    assert busy.value.code == "idempotency_key_in_use"


async def test_a_key_that_cannot_be_claimed_three_times_over_is_409(
    db: Database, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each attempt loses the insert and then finds the row gone (released meanwhile)."""
    c = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(c, Claim)
    lookups = 0
    real_execute = AsyncConnection.execute

    async def vanishing(self: Any, stmt: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal lookups
        if getattr(stmt, "is_select", False):
            lookups += 1
            stmt = stmt.where(IdempotencyRecord.key == "no such key")
        return await real_execute(self, stmt, *args, **kwargs)

    monkeypatch.setattr(AsyncConnection, "execute", vanishing)
    with pytest.raises(ApiError) as busy:
        await claim(db, "svc_1", "k1", FP, TTL)
    assert lookups == 3
    assert code_of(busy) == (
        409,
        "idempotency_key_in_use",
        "Could not claim the Idempotency-Key; retry.",
        None,
        "idempotency_error",
    )


# ------------------------------------------------------------------ run_idempotent
@dataclass(frozen=True)
class AfterCommit:
    """An operation that commits its effect and answer, then fails (a refund reserved, then
    the database lost or the request cancelled while the PSP is asked)."""

    status: int
    body: Any
    failure: BaseException


class Operation:
    """A business operation: answers its outcomes in turn, storing its answer in its claim
    (as a service does inside its transaction), or raising."""

    def __init__(
        self, db: Database, *outcomes: tuple[int, Any] | BaseException | AfterCommit
    ) -> None:
        self.db, self.outcomes = db, list(outcomes)
        self.calls: list[Claim | None] = []

    async def __call__(self, c: Claim | None) -> tuple[int, Any]:
        self.calls.append(c)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, AfterCommit):
            assert c is not None
            await complete(self.db, c, outcome.status, outcome.body)
            raise outcome.failure
        if isinstance(outcome, BaseException):
            raise outcome
        if c is not None:
            await complete(self.db, c, *outcome)
        return outcome


async def run(op: Operation, key: str | None, payload: Any = None) -> Any:
    return await run_idempotent(
        op.db,
        scope="svc_1",
        key=key,
        method="POST",
        path="/v1/invoices",
        payload={"amount": 2500} if payload is None else payload,
        ttl=TTL,
        operation=op,
    )


def answer(response: Any) -> tuple[int, Any, str | None]:
    return (
        response.status_code,
        json.loads(response.body),
        response.headers.get("idempotent-replayed"),
    )


async def test_without_a_key_the_operation_runs_every_time(db: Database, clock: Clock) -> None:
    op = Operation(db, (201, {"n": 1}), (201, {"n": 2}))
    assert answer(await run(op, None)) == (201, {"n": 1}, None)
    assert answer(await run(op, None)) == (201, {"n": 2}, None)
    assert op.calls == [None, None]
    assert await rows(db) == []


async def test_with_a_key_the_operation_runs_once_and_its_answer_replays(
    db: Database, clock: Clock
) -> None:
    op = Operation(db, (201, {"id": "inv_1"}))
    assert answer(await run(op, "k1")) == (201, {"id": "inv_1"}, None)
    assert answer(await run(op, "k1")) == (201, {"id": "inv_1"}, "true")
    assert len(op.calls) == 1 and isinstance(op.calls[0], Claim)
    with pytest.raises(ApiError) as bad:
        await run(op, "")
    assert bad.value.code == "idempotency_key_invalid"
    with pytest.raises(ApiError) as reused:
        await run(op, "k1", payload={"amount": 1})
    assert reused.value.code == "idempotency_key_reused"


@pytest.mark.parametrize("status", [400, 404, 409, 499])
async def test_a_business_4xx_is_stored_and_replays(
    db: Database, clock: Clock, status: int
) -> None:
    err = ApiError(status, "nope", "Not like this.", param="amount")
    op = Operation(db, err, (201, {"id": "never"}))
    with pytest.raises(ApiError) as first:
        await run(op, "k1")
    assert first.value is err
    assert await rows(db) == [("svc_1", "k1", "done", status, err.body())]
    assert answer(await run(op, "k1")) == (status, err.body(), "true")
    assert len(op.calls) == 1


@pytest.mark.parametrize(
    "failure", [ApiError(500, "boom", "Boom."), ApiError(502, "psp", "PSP down."), RuntimeError()]
)
async def test_an_unexpected_failure_releases_the_key_for_a_retry(
    db: Database, clock: Clock, failure: BaseException
) -> None:
    op = Operation(db, failure, (201, {"id": "inv_1"}))
    with pytest.raises(type(failure)):
        await run(op, "k1")
    assert await rows(db) == []
    assert answer(await run(op, "k1")) == (201, {"id": "inv_1"}, None)
    assert len(op.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [
        ApiError(503, "database_unavailable", "Try again."),
        ApiError(409, "late", "Too late."),
        RuntimeError(),
        asyncio.CancelledError(),
    ],
)
async def test_a_failure_after_the_answer_committed_keeps_it_to_replay(
    db: Database, clock: Clock, failure: BaseException
) -> None:
    op = Operation(db, AfterCommit(202, {"id": "ref_1"}, failure), (202, {"id": "ref_2"}))
    with pytest.raises(type(failure)):
        await run(op, "k1")
    assert await rows(db) == [("svc_1", "k1", "done", 202, {"id": "ref_1"})]
    assert answer(await run(op, "k1")) == (202, {"id": "ref_1"}, "true")
    assert len(op.calls) == 1


async def test_an_operation_can_give_back_a_key_it_answered(db: Database, clock: Clock) -> None:
    op = Operation(db, (202, {"id": "ref_1"}), (201, {"id": "ref_2"}))
    await run(op, "k1")
    async with db.session() as s:
        c = op.calls[0]
        assert c is not None
        await c.release(s)
        await s.commit()
    assert await rows(db) == []
    assert answer(await run(op, "k1")) == (201, {"id": "ref_2"}, None)


async def test_a_router_call_uses_the_requests_path_method_and_the_ttl_in_hours(
    db: Database, clock: Clock
) -> None:
    def request(method: str, path: str) -> Any:
        settings = SimpleNamespace(idempotency_ttl_hours=2)
        app = SimpleNamespace(state=SimpleNamespace(db=db, settings=settings))
        return SimpleNamespace(app=app, method=method, url=SimpleNamespace(path=path))

    async def post(method: str = "POST", path: str = "/v1/invoices", scope: str = "svc_1") -> Any:
        return await idempotent_post(request(method, path), scope, "k1", {"amount": 2500}, op)

    op = Operation(db, (201, {"id": "inv_1"}), (201, {"id": "inv_2"}), (201, {"id": "inv_3"}))
    assert answer(await post()) == (201, {"id": "inv_1"}, None)
    clock.now = T0 + dt.timedelta(hours=2)
    assert answer(await post()) == (201, {"id": "inv_1"}, "true")
    for other in (dict(path="/v1/invoices/inv_1/cancel"), dict(method="PUT")):
        with pytest.raises(ApiError) as reused:
            await post(**other)
        assert reused.value.code == "idempotency_key_reused"
    assert answer(await post(scope="svc_2")) == (201, {"id": "inv_2"}, None)
    clock.now = T0 + dt.timedelta(hours=2) + TICK
    assert answer(await post()) == (201, {"id": "inv_3"}, None)


async def test_a_stale_claim_is_taken_over_only_by_the_same_request(
    db: Database, clock: Clock
) -> None:
    """Past the stale mark a claim whose request never answered is taken over by a retry of
    that request; another request with the key is refused as a reuse, as it would have
    been before the mark (it must not run a different operation under the first one's key)."""
    crashed = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(crashed, Claim)
    clock.now = T0 + STALE_AFTER + TICK
    other = fingerprint("POST", "/v1/invoices", {"amount": 9900})
    with pytest.raises(ApiError) as refused:
        await claim(db, "svc_1", "k1", other, TTL)
    assert (refused.value.status, refused.value.code) == (409, "idempotency_key_reused")
    assert await rows(db) == [("svc_1", "k1", "in_progress", None, None)]
    retried = await claim(db, "svc_1", "k1", FP, TTL)
    assert isinstance(retried, Claim) and retried != crashed
