"""``ledger verify`` reads the ledger of one moment, the one it began at: an entry posted or
sealed while it reads (the worker seals all the time) is in none of its reads, so what it
reports (the chain it checked, its head, the entries awaiting their seal) is one state
the ledger was in, whatever commits meanwhile."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from ledger import repository as repo
from ledger.models import ChainSeal
from ledger.posting import transfer
from ledger.service import VerifyResult, post


async def _post(app: Any, key: str) -> None:
    async with app.state.db.session() as s:
        await post(s, source_key=key, kind="test",
                   postings=transfer("assets:bank:main", "income:u", 100, "EUR"))  # fmt: skip
        await s.commit()


def _before_call(
    read: Callable[..., Awaitable[Any]], nth: int, then: Callable[[], Awaitable[None]]
) -> Any:
    """``read``, which runs ``then`` (another session's commits) before its ``nth`` call."""
    calls = 0

    async def hooked(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            await then()
        return await read(*args, **kwargs)

    return hooked


@pytest.mark.parametrize(
    ("step", "nth"),
    [("seals_page", 2), ("count_unsealed", 1)],
    ids=["between-two-pages-of-seals", "between-the-chain-and-the-counts"],
)
async def test_what_is_posted_and_sealed_while_verify_reads_is_in_none_of_its_reads(
    app: Any, monkeypatch: pytest.MonkeyPatch, step: str, nth: int
) -> None:
    """Entry a is sealed, b awaits its seal. While verify reads (a page of one seal, then
    the next; or the chain, then the counts), b is sealed and c posted and sealed. Verify
    reports the ledger it began with: a checked, b awaiting, a's head. Its statements
    each read the ledger of their own moment (PostgreSQL, READ COMMITTED): it went on
    along the seals added meanwhile, or counted b neither sealed nor awaiting (1 entry in
    all, in a ledger that always held 2 or 3); on SQLite it held the write lock from its
    first read to its end (``BEGIN IMMEDIATE``), so the sealer waited for it (30 s), then
    failed."""
    ledger = app.state.ledger
    await _post(app, "a")
    assert await ledger.seal() == 1
    await _post(app, "b")
    async with app.state.db.session() as s:
        head_a = (await s.execute(select(ChainSeal))).scalar_one()

    async def meanwhile() -> None:
        assert await ledger.seal() == 1  # b
        await _post(app, "c")
        assert await ledger.seal() == 1

    monkeypatch.setattr(repo, step, _before_call(getattr(repo, step), nth, meanwhile))
    result = await ledger.verify(page=1)
    assert result == VerifyResult(True, 1, 1, head=(1, head_a.hash))
    monkeypatch.undo()
    after = await ledger.verify(page=1)
    assert (after.ok, after.sealed, after.unsealed) == (True, 3, 0)
    assert await ledger.verify(head=result.head) == after  # the head it gave is still held
