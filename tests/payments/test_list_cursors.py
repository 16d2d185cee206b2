"""A list's cursor (``starting_after``) that is not an invoice's id is refused, not read.

The lists page by keyset on ids (``id < starting_after`` newest first, ``id >`` in a
batch's page), so any text was a cursor: a truncated ``inv_123`` sorts after every real id
and gave the first page again (a client following it loops for ever), an empty one or
``INV_…`` gave an empty page saying ``has_more: false`` (a client stops, invoices unseen).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Keys, create_invoice
from tests.payments.test_bad_input import assert_error
from tests.payments.test_invoice_batches import batch, post_batch

BAD_CURSORS = [
    "",
    "inv_123",
    "inv_01ARZ3NDEKTSV4RRFFQ69G5FA",  # one character short
    "INV_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "inv_01arz3ndektsv4rrffq69g5fav",
    "pay_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "zzz",
    "' OR 1=1 --",
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_malformed_cursor_of_the_invoice_list_is_422(
    client: httpx.AsyncClient, keys: Keys, cursor: str
) -> None:
    await create_invoice(client, keys.urbanisme)
    r = await client.get(
        "/v1/invoices", params={"starting_after": cursor}, headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 422, "parameter_invalid", "starting_after")


@pytest.mark.parametrize("cursor", BAD_CURSORS)
async def test_a_malformed_cursor_of_a_batch_page_is_422(
    client: httpx.AsyncClient, keys: Keys, cursor: str
) -> None:
    made = await post_batch(client, keys.urbanisme, batch(3))
    assert made.status_code == 201, made.text
    r = await client.get(
        f"/v1/invoice-batches/{made.json()['id']}",
        params={"starting_after": cursor},
        headers=Keys.h(keys.urbanisme),
    )
    assert_error(r, 422, "parameter_invalid", "starting_after")


async def test_a_well_formed_cursor_still_pages(client: httpx.AsyncClient, keys: Keys) -> None:
    # an id of the right shape is a place in the list, whether or not the invoice exists
    made = [await create_invoice(client, keys.urbanisme, reference=f"R-{i}") for i in range(3)]
    h = Keys.h(keys.urbanisme)
    page: Any = (
        await client.get("/v1/invoices", params={"starting_after": made[2]["id"]}, headers=h)
    ).json()
    assert [x["id"] for x in page["data"]] == [made[1]["id"], made[0]["id"]]
    after_all = "inv_" + "Z" * 26
    page = (
        await client.get("/v1/invoices", params={"starting_after": after_all}, headers=h)
    ).json()
    assert len(page["data"]) == 3
