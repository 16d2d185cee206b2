"""``GET /v1/ledger/entries?invoice=``: the filter is an invoice's id, as the other id
filters and cursors (``/v1/webhook-deliveries?invoice=``, the lists' ``starting_after``):
anything else is a 422 ``parameter_invalid`` in the one error shape, never a query."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Keys, create_invoice
from tests.payments.test_bad_input import assert_error

ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


@pytest.mark.parametrize(
    "invoice",
    [
        "",  # was read as no filter at all: every entry of the journal
        "x" * 10_000,  # 10 kB
        "inv_123",
        f"inv_{ULID[:-1]}",  # one character short
        f"inv_{ULID.lower()}",
        f"INV_{ULID}",
        f"pay_{ULID}",  # another kind's id
        f"je_{ULID}",
        "' OR 1=1 --",
        f" inv_{ULID}",
    ],
)
async def test_a_malformed_invoice_filter_is_422(
    client: httpx.AsyncClient, keys: Keys, invoice: str
) -> None:
    """A wrong prefix or a truncated id was an empty list (200, as if the invoice had no
    entry); an empty one no filter at all (200 and the whole journal)."""
    r = await client.get(
        "/v1/ledger/entries", params={"invoice": invoice}, headers=Keys.h(keys.finance)
    )
    assert_error(r, 422, "parameter_invalid", "invoice")


@pytest.mark.parametrize("invoice", ["inv_\x00", f"inv_{ULID[:-1]}\x00"])
async def test_a_nul_byte_in_the_filter_is_refused_before_the_route(
    client: httpx.AsyncClient, keys: Keys, invoice: str
) -> None:
    """A NUL byte never reaches the database: the query string is refused (400
    ``invalid_character``, the one error shape) as for every route."""
    r = await client.get(
        "/v1/ledger/entries", params={"invoice": invoice}, headers=Keys.h(keys.finance)
    )
    assert_error(r, 400, "invalid_character")


async def test_an_invoices_id_still_filters(client: httpx.AsyncClient, keys: Keys) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    h = Keys.h(keys.finance)
    r = await client.get("/v1/ledger/entries", params={"invoice": inv["id"]}, headers=h)
    assert r.status_code == 200, r.text
    assert [e["invoice"] for e in r.json()["data"]] == [inv["id"]]
    # an id of the right shape that no invoice has: an empty list
    r = await client.get("/v1/ledger/entries", params={"invoice": f"inv_{ULID}"}, headers=h)
    assert r.status_code == 200 and r.json()["data"] == [], r.text
