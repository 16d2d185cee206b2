"""An entry's batch (NtryDtls/TxDtls) whose transactions do not add up to the entry: said
under *problems*, like balances that do not add up (never refused: the file was read, and
the finance officer decides what it means), by the import, ``regie bank-statement show``
and the workspace. Compared only when every transaction has an amount in the entry's
currency, as booked (a transfer in another currency, one given only as instructed, before
the bank's charges, or a transaction without an amount cannot be added up). On SQLite and
PostgreSQL."""

from __future__ import annotations

import io
from html import unescape
from typing import Any

import httpx
import pytest
from rich.console import Console

from reconciliation.sources.camt053 import parse_camt053
from reconciliation.sources.show import bank_statement_table
from regie.finance.remarks import problem_text
from regie.kit.money import format_money
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in

from .camt_builder import E, S, camt, tx
from .test_camt053_import_identity import stored, upload

IBAN = "FR7630001007941234567890185"
SAID = (
    "statement S1: the entry at line 9 is a credit of 100.00 EUR, but its transactions "
    "(TxDtls) add up to 90.00 EUR (a difference of 10.00 EUR)"
)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def short_batch() -> bytes:
    """A batch credit of 100.00 whose two transactions make 90.00; the balances add up."""
    return camt(
        S(closing=("100.00", "CRDT"), entries=[E("100.00", details=[tx("60.00"), tx("30.00")])])
    )


def problems(*entries: E) -> list[str]:
    total = sum(int(e.amount.replace(".", "")) * (1 if e.direction == "CRDT" else -1)
                for e in entries)  # fmt: skip
    closing = (f"{abs(total) / 100:.2f}", "CRDT" if total >= 0 else "DBIT")
    return list(parse_camt053(camt(S(closing=closing, entries=list(entries))), "x.xml").problems)


def test_a_batch_that_does_not_add_up_is_said() -> None:
    assert problems(E("100.00", details=[tx("60.00"), tx("30.00")])) == [SAID]
    # a debit, its one transaction more than it
    (debit,) = problems(E("5.00", "DBIT", details=[tx("5.50", direction="DBIT")]))
    assert debit == (
        "statement S1: the entry at line 9 is a debit of 5.00 EUR, but its transactions "
        "(TxDtls) add up to 5.50 EUR (a difference of -0.50 EUR)"
    )


def test_batches_that_add_up_or_cannot_be_added_up_say_nothing() -> None:
    assert problems(E("100.00", details=[tx("60.00"), tx("40.00")])) == []
    # a return inside a batch credit: 120.00 in, 20.00 back
    assert problems(E("100.00", details=[tx("120.00", direction="CRDT"),
                                         tx("20.00", direction="DBIT")])) == []  # fmt: skip
    # a transfer instructed in dollars, its euro amount not given: nothing to compare
    assert problems(E("92.00", details=[tx(None, instructed=("100.00", "USD"))])) == []
    assert problems(E("92.00", details=[tx("100.00", "USD"), tx("1.00")])) == []
    # only the amount the payer instructed, in euros: the bank's charges may come off it
    assert problems(E("99.50", details=[tx(None, instructed=("100.00", "EUR"))])) == []
    # a transaction without any amount (many banks give only its references)
    assert problems(E("92.00", details=[tx("50.00"), tx(None)])) == []
    # the transaction's own amount in euros, its instructed one in dollars: compared
    (found,) = problems(E("92.00", details=[tx("91.00", instructed=("100.00", "USD"))]))
    assert "add up to 91.00 EUR (a difference of 1.00 EUR)" in found


def test_show_lists_it() -> None:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(
        bank_statement_table(parse_camt053(short_batch(), "batch.xml"))
    )
    assert "Problems (1)" in out.getvalue() and SAID in out.getvalue()


async def test_the_import_stores_the_entry_and_says_it_in_the_officers_language(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await upload(client, keys, short_batch(), "batch.xml")
    assert r.status_code == 201, r.text
    assert (r.json()["entries"], r.json()["problems"]) == (1, [SAID])
    assert [a for a, _ in await stored(app)] == [10000]  # the entry's amount, as booked
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = unescape((await client.get("/finance/bank-statements")).text)
    fr = problem_text(SAID, "fr")
    assert fr == (
        f"Relevé S1\u00a0: l'écriture de la ligne 9 est un crédit de "
        f"{format_money(10000, 'EUR', 'fr')}, mais ses transactions (TxDtls) totalisent "
        f"{format_money(9000, 'EUR', 'fr')} (un écart de {format_money(1000, 'EUR', 'fr')})."
    )
    assert fr in page
