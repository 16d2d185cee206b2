"""Text that looks the same is the same: a reference or a name in another Unicode form,
with an invisible character, a control character or a right-to-left override.

A reference written "é" as one code point (NFC, what most keyboards send) or as "e" and a
combining accent (NFD, what macOS file names and some spreadsheets give) was stored as sent:
two invoices whose references look identical, and a search by one form that missed the
other. A zero-width joiner (which the pattern's ``\\w`` took) made a third. A payer's name
holding a right-to-left override or a terminal's escape sequence went onto receipts, pages
and exports as it was; a name made of a zero-width space alone passed as a name.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest

from tests.conftest import Keys, create_invoice, invoice_body
from tests.payments.test_bad_input import assert_error, assert_rejected
from tests.payments.test_invoice_batches import post_batch

NFC = unicodedata.normalize("NFC", "RÉGIE-Été-1")
NFD = unicodedata.normalize("NFD", NFC)


@pytest.mark.parametrize(
    ("stored", "again"),
    [
        (NFC, NFD),
        (NFD, NFC),
        ("ABC-1", "\uff21\uff22\uff23-1"),  # fullwidth letters: "ＡＢＣ-1"
    ],
    ids=["nfc-then-nfd", "nfd-then-nfc", "fullwidth"],
)
async def test_a_reference_in_another_unicode_form_is_the_same_reference(
    client: httpx.AsyncClient, app: Any, keys: Keys, stored: str, again: str
) -> None:
    assert stored != again
    first = await create_invoice(client, keys.urbanisme, reference=stored)
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(reference=again),
        409,
        "reference_already_used",
        "reference",
    )
    for form in (stored, again, f" {again} "):
        listed = await client.get(
            "/v1/invoices", params={"reference": form}, headers=Keys.h(keys.urbanisme)
        )
        assert listed.status_code == 200, listed.text
        assert [x["id"] for x in listed.json()["data"]] == [first["id"]], form


async def test_a_reference_is_kept_in_its_composed_form(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme, reference=NFD)
    assert inv["reference"] == NFC


async def test_a_batch_with_one_reference_in_two_forms_names_the_second_row(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    # what `regie invoices import` sends, one item per line of the CSV
    items = [invoice_body(reference=NFC), invoice_body(reference=NFD)]
    r = await post_batch(client, keys.urbanisme, items)
    assert r.status_code == 422, r.text
    assert [(e["row"], e["code"]) for e in r.json()["error"]["errors"]] == [
        (1, "reference_duplicated")
    ]


@pytest.mark.parametrize(
    "reference",
    ["AB\u200dC", "AB\u200cC", "\u200dABC"],
    ids=["zero-width-joiner", "zero-width-non-joiner", "leading-joiner"],
)
async def test_a_reference_with_an_invisible_character_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, reference: str
) -> None:
    await assert_rejected(
        client,
        app,
        keys.urbanisme,
        invoice_body(reference=reference),
        422,
        "parameter_invalid",
        "reference",
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("payer.name", "Camille \u202egnitraM"),  # right-to-left override
        ("payer.name", "Camille \u2066Martin\u2069"),  # isolate
        ("payer.name", "Camille\x07Martin"),  # a bell
        ("payer.name", "\x1b[31mCamille"),  # a terminal's escape sequence
        ("payer.name", "Camille\nMartin"),  # a name is one line
        ("payer.name", "\u200b"),  # nothing visible
        ("payer.name", "\u200b \u200b"),
        ("description", "Permis\x1b[2J"),
        ("description", "\u202eetnegru"),
        ("description", "\u200b"),
        ("payer.address", "1 rue de la Paix\x0b75002 Paris"),
        ("lines.0.description", "Frais \u202e"),
    ],
)
async def test_text_with_a_control_or_bidi_character_or_nothing_visible_is_422(
    client: httpx.AsyncClient, app: Any, keys: Keys, field: str, value: str
) -> None:
    body = invoice_body()
    if field.startswith("payer."):
        body["payer"][field.split(".", 1)[1]] = value
    elif field.startswith("lines."):
        del body["amount"]
        body["lines"] = [{"description": value, "unit_amount": 2500}]
    else:
        body[field] = value
    await assert_rejected(client, app, keys.urbanisme, body, 422, "parameter_invalid", field)


async def test_text_in_other_scripts_and_on_several_lines_is_kept(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    # the rule refuses what cannot be seen or what turns text round, not other languages
    name = "Zoë Ø'Brien-Łukasz محمد 山田"
    address = "1 rue de la Paix\n75002 Paris"
    inv = await create_invoice(
        client,
        keys.urbanisme,
        description=NFD,
        payer={"name": unicodedata.normalize("NFD", name), "address": address},
    )
    assert inv["payer"]["name"] == name and inv["payer"]["address"] == address
    assert inv["description"] == NFC


@pytest.mark.parametrize(
    "reason",
    ["Trop-perçu \u202e", "Trop-perçu\x1b[2J", "\u200b"],
    ids=["bidi", "escape", "invisible"],
)
async def test_a_refund_reason_with_a_control_or_bidi_character_is_422(
    client: httpx.AsyncClient, keys: Keys, reason: str
) -> None:
    # the reason is printed on the credit note: the same rule as an invoice's description
    inv = await create_invoice(client, keys.urbanisme)
    r = await client.post(
        f"/v1/invoices/{inv['id']}/refunds",
        json={"reason": reason},
        headers=Keys.h(keys.urbanisme),
    )
    assert_error(r, 422, "parameter_invalid", "reason")
