"""Entries of one statement that carry the same account servicer's reference (AcctSvcrRef).

Some banks give one reference to several entries of a day (ABN AMRO numbers a
transaction's entries alike; others put a payment code there). Within one statement those
are separate entries, each real money that the statement's balances count: they are all
imported, numbered by occurrence, and said under *problems*. The same reference in another
statement, or another file, is still the same entry (overlapping statements): a second file
repeating them adds nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from html import unescape
from typing import Any

import httpx
import pytest

from reconciliation.sources.camt053 import parse_camt053
from reconciliation.statement_keys import MAX_KEY, entry_keys
from regie.finance.remarks import problem_text
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in

from .camt_builder import E, S, camt
from .test_camt053_import_identity import stored, upload

IBAN = "FR7630001007941234567890185"
SAID = (
    "statement S1: 2 entries carry the bank reference ASR-1 (lines 9, 11): "
    "each is kept as an entry of its own"
)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def two_alike(msg_id: str = "MSG-1") -> bytes:
    """Two card payments of 10.00 on one day, both under the bank's reference ASR-1: the
    statement opens at 0.00 and closes at 20.00, so the bank counts both."""
    return camt(
        S(closing=("20.00", "CRDT"),
          entries=[E("10.00", servicer_ref="ASR-1"), E("10.00", servicer_ref="ASR-1")]),
        msg_id=msg_id,
    )  # fmt: skip


async def test_two_entries_of_one_statement_under_one_reference_are_both_imported(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    r = await upload(client, keys, two_alike(), "day.xml")
    assert r.status_code == 201, r.text
    assert (r.json()["entries"], r.json()["duplicates"]) == (2, 0)
    assert r.json()["problems"] == [SAID]
    assert await stored(app) == [(1000, "ASR-1"), (1000, "ASR-1#2")]
    # the same statement in another file (overlapping): both already imported, none added
    again = await upload(client, keys, two_alike("MSG-2"), "day-again.xml")
    assert again.status_code == 201, again.text
    assert (again.json()["entries"], again.json()["duplicates"]) == (0, 2)
    # a later issue with one more entry under that reference adds that one only
    more = camt(
        S(closing=("30.00", "CRDT"), entries=[E("10.00", servicer_ref="ASR-1")] * 3),
        msg_id="MSG-3",
    )
    r3 = (await upload(client, keys, more, "day-later.xml")).json()
    assert (r3["entries"], r3["duplicates"]) == (1, 2)
    assert [ref for _, ref in await stored(app)] == ["ASR-1", "ASR-1#2", "ASR-1#3"]
    # the workspace says it in the officer's language
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = unescape((await client.get("/finance/bank-statements")).text)
    assert (
        "Relevé S1\u00a0: 2 écritures portent la référence bancaire ASR-1 (lignes 9, 11)\u00a0: "
        "chacune est gardée comme une écriture à part entière." in page
    )


async def test_one_reference_on_two_amounts_in_one_statement_is_two_entries(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """A transaction and its fee under one reference: the file was refused whole, so none
    of that day's money could be imported. A later file giving the reference to another
    amount is still refused: there the reference names an entry already imported."""
    day = camt(
        S(closing=("4.00", "CRDT"),
          entries=[E("5.00", servicer_ref="B7"), E("1.00", "DBIT", servicer_ref="B7")]),
    )  # fmt: skip
    r = await upload(client, keys, day, "fee.xml")
    assert r.status_code == 201, r.text
    assert (r.json()["entries"], r.json()["duplicates"]) == (2, 0)
    assert await stored(app) == [(100, "B7#2"), (500, "B7")]
    other = camt(S(id="S2", seq=2, entries=[E("99.00", servicer_ref="B7")]), msg_id="M2")
    refused = await upload(client, keys, other, "other.xml")
    assert refused.status_code == 422, refused.text
    assert "other.xml, line 9: entry B7 (credit of 99.00 EUR)" in refused.json()["error"]["message"]


async def test_the_reference_in_another_statement_of_the_file_is_the_same_entry(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Numbered within a statement (its pages together), not across the file: a file of
    several statements is read as those statements sent one by one would be."""
    pages_then_day = camt(
        S(id="P", seq=1, page=1, closing=None, entries=[E("3.00", servicer_ref="R")]),
        S(id="P", seq=1, page=2, opening=None, closing=("6.00", "CRDT"),
          entries=[E("3.00", servicer_ref="R")]),
        S(id="Q", seq=2, day="2026-10-02", opening=("6.00", "CRDT"), closing=("9.00", "CRDT"),
          entries=[E("3.00", servicer_ref="R", day="2026-10-02")]),
    )  # fmt: skip
    r = (await upload(client, keys, pages_then_day, "file.xml")).json()
    assert (r["entries"], r["duplicates"]) == (2, 1)
    assert [ref for _, ref in await stored(app)] == ["R", "R#2"]


def test_keys_number_the_repeats_of_a_statement_and_stay_within_the_column() -> None:
    long = "X" * 140
    f = parse_camt053(
        camt(S(closing=None, entries=[
            E("1.00", servicer_ref="A"), E("2.00", servicer_ref="A", status="PDNG"),
            E("3.00", servicer_ref="A"), E("4.00", servicer_ref="A", status="PDNG"),
            E("5.00", servicer_ref=long), E("6.00", servicer_ref=long), E("7.00"), E("7.00"),
        ])),
        "keys.xml",
    )  # fmt: skip
    keys = entry_keys(f.statements)
    assert keys[:4] == ["A", "A#PDNG", "A#2", "A#PDNG#2"]
    assert keys[4] == long and keys[5].startswith("#") and len(keys[5]) <= MAX_KEY
    assert len(set(keys)) == len(keys)


def test_show_says_it_before_the_import() -> None:
    """``regie bank-statement show`` lists the same remark (JSON and table share it)."""
    f = parse_camt053(two_alike(), "day.xml")
    assert list(f.problems) == [SAID]
    assert problem_text(SAID, "en") == (
        "Statement S1: 2 entries carry the bank reference ASR-1 (lines 9, 11): each is kept "
        "as an entry of its own."
    )
