"""The notification lists' cursor (``starting_after``) must be an id of what they list.

``GET /v1/webhook-endpoints`` and ``GET /v1/webhook-deliveries`` page by keyset on ids,
newest first (``id < starting_after``), like the invoice list: any text was read as a
place in the list, so a truncated ``whe_123`` (it sorts after every id) gave the first page
again, a client following it looping for ever, and an empty or lower-case one an empty page
saying ``has_more: false``. Refused now as the invoice list refuses it (422
``parameter_invalid``, ``param`` ``starting_after``).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Keys, create_invoice
from tests.payments.test_bad_input import assert_error
from tests.webhooks.notify_kit import cancel, register

ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def bad_cursors(prefix: str) -> list[str]:
    return [
        "",
        f"{prefix}_123",
        f"{prefix}_{ULID[:-1]}",  # one character short
        f"{prefix.upper()}_{ULID}",
        f"{prefix}_{ULID.lower()}",
        f"inv_{ULID}",  # another kind's id
        "zzz",
        "' OR 1=1 --",
    ]


@pytest.mark.parametrize("cursor", bad_cursors("whe"))
async def test_a_malformed_cursor_of_the_endpoint_list_is_422(
    client: httpx.AsyncClient, keys: Keys, cursor: str
) -> None:
    await register(client, keys.urbanisme, "http://127.0.0.1:9/hook")
    r = await client.get(
        "/v1/webhook-endpoints", params={"starting_after": cursor}, headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 422, "parameter_invalid", "starting_after")


@pytest.mark.parametrize("cursor", bad_cursors("del"))
async def test_a_malformed_cursor_of_the_delivery_list_is_422(
    client: httpx.AsyncClient, keys: Keys, cursor: str
) -> None:
    await register(client, keys.urbanisme, "http://127.0.0.1:9/hook")
    await create_invoice(client, keys.urbanisme)
    r = await client.get(
        "/v1/webhook-deliveries", params={"starting_after": cursor}, headers=Keys.h(keys.urbanisme)
    )
    assert_error(r, 422, "parameter_invalid", "starting_after")


async def test_well_formed_cursors_still_page(client: httpx.AsyncClient, keys: Keys) -> None:
    # an id of the right shape is a place in the list, whether or not it exists
    h = Keys.h(keys.urbanisme)
    made = [await register(client, keys.urbanisme, f"http://127.0.0.1:9/h{i}") for i in range(3)]
    page: Any = (
        await client.get(
            "/v1/webhook-endpoints", params={"starting_after": made[2]["id"]}, headers=h
        )
    ).json()
    assert [x["id"] for x in page["data"]] == [made[1]["id"], made[0]["id"]]
    page = (
        await client.get(
            "/v1/webhook-endpoints", params={"starting_after": "whe_" + "Z" * 26}, headers=h
        )
    ).json()
    assert len(page["data"]) == 3

    inv = await create_invoice(client, keys.urbanisme)
    await cancel(client, keys.urbanisme, inv)  # invoice.canceled, to each of the 3 endpoints
    everything = (await client.get("/v1/webhook-deliveries", headers=h)).json()["data"]
    assert len(everything) == 3
    page = (
        await client.get(
            "/v1/webhook-deliveries", params={"starting_after": everything[0]["id"]}, headers=h
        )
    ).json()
    assert [x["id"] for x in page["data"]] == [x["id"] for x in everything[1:]]
    page = (
        await client.get(
            "/v1/webhook-deliveries", params={"starting_after": "del_" + "Z" * 26}, headers=h
        )
    ).json()
    assert len(page["data"]) == 3
