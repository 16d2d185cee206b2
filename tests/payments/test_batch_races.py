"""One batch of invoices sent twice at once (PostgreSQL): with two keys, one key or none,
and racing single invoices that take one of its references. Exactly one batch is created,
the other is a 409 in the one error shape, never a 500 nor part of a batch, and the
invoice numbers have no gap."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest

from payments import batch_repository
from tests.conftest import Keys, invoice_body
from tests.lock_waits import lock_waiters
from tests.payments.test_bad_input import assert_error, row_counts
from tests.payments.test_invoice_batches import batch, number_of, post_batch

pytestmark = pytest.mark.postgres


def _created_once(answers: list[httpx.Response], conflict: str) -> dict[str, Any]:
    created = [r for r in answers if r.status_code == 201]
    assert len(created) == 1, [r.text for r in answers]
    for r in answers:
        if r.status_code != 201:
            assert_error(r, 409, conflict, r.json()["error"].get("param"))
    return created[0].json()  # type: ignore[no-any-return]


async def _first_held_in_its_transaction(
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    first: Coroutine[Any, Any, httpx.Response],
    second: Coroutine[Any, Any, httpx.Response],
) -> list[httpx.Response]:
    """The first batch validated and held as its transaction starts (before it writes);
    the second runs until it is done or waits on a lock; then the first goes on."""
    real = batch_repository.insert_batch
    reached, go = asyncio.Event(), asyncio.Event()

    async def insert_batch(*args: Any, **kwargs: Any) -> Any:
        if not reached.is_set():
            reached.set()
            await go.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(batch_repository, "insert_batch", insert_batch)
    one = asyncio.create_task(first)
    await asyncio.wait_for(reached.wait(), 10)
    two = asyncio.create_task(second)
    for _ in range(500):
        if two.done() or await lock_waiters(app.state.db):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the second request neither finished nor waited on a lock")
    go.set()
    return [await asyncio.wait_for(one, 10), await asyncio.wait_for(two, 10)]


@pytest.mark.parametrize("keys_sent", ["two keys", "no key"])
async def test_one_batch_sent_twice_at_once_is_created_once(
    client: httpx.AsyncClient,
    app: Any,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
    keys_sent: str,
) -> None:
    items = batch(30)
    headers = [{"Idempotency-Key": f"nov-{k}"} if keys_sent == "two keys" else {} for k in (1, 2)]
    answers = await _first_held_in_its_transaction(
        app,
        monkeypatch,
        *(post_batch(client, keys.urbanisme, items, **h) for h in headers),
    )
    made = _created_once(answers, "reference_already_used")
    counts = await row_counts(app)
    assert counts["invoices"] == 30 and counts["number_sequences.sum"] == 30
    assert counts["state_changes"] == 30  # one audit row per invoice, none of the loser's
    assert [number_of(x["number"]) for x in made["invoices"]] == list(range(1, 31))
    if keys_sent == "two keys":  # the refused one replays its refusal
        loser = next(i for i, r in enumerate(answers) if r.status_code == 409)
        again = await post_batch(client, keys.urbanisme, items, **headers[loser])
        assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"


async def test_one_batch_sent_three_times_at_once_with_one_key(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    items = batch(30)
    h = {"Idempotency-Key": "nov-same"}
    answers = list(
        await asyncio.gather(*(post_batch(client, keys.urbanisme, items, **h) for _ in range(3)))
    )
    made = _created_once(answers, "idempotency_key_in_use")
    assert (await row_counts(app))["invoices"] == 30
    again = await post_batch(client, keys.urbanisme, items, **h)
    assert again.status_code == 201 and again.json() == made


async def test_a_batch_racing_single_invoices_of_its_references(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    items = batch(20)
    singles = [invoice_body(reference=items[i]["reference"]) for i in (0, 19)]
    answers = await asyncio.gather(
        post_batch(client, keys.urbanisme, items, **{"Idempotency-Key": "nov-b"}),
        *(
            client.post(
                "/v1/invoices",
                json=body,
                headers=Keys.h(keys.urbanisme, **{"Idempotency-Key": f"single-{k}"}),
            )
            for k, body in enumerate(singles)
        ),
    )
    for r in answers:
        assert r.status_code in (201, 409, 422), r.text
        if r.status_code == 409:
            assert_error(r, 409, "reference_already_used", r.json()["error"]["param"])
    if answers[0].status_code == 422:
        # the singles committed before the batch was checked: it names the rows they took
        # (a loaded machine gets there; otherwise the batch meets them at the constraint)
        assert_error(answers[0], 422, "batch_invalid", "invoices")
        errors = answers[0].json()["error"]["errors"]
        assert {(e["row"], e["code"]) for e in errors} <= {
            (0, "reference_already_used"),
            (19, "reference_already_used"),
        }
        assert errors and all(r.status_code == 201 for r in answers[1:])
    counts = await row_counts(app)
    created = 20 if answers[0].status_code == 201 else sum(r.status_code == 201 for r in answers)
    assert counts["invoices"] == created == counts["number_sequences.sum"]
