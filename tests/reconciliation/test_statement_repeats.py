"""Statements that share an id in one file: pages of one statement are checked together,
but a statement that has closed takes no more pages (banks reuse one id every day, without
a sequence number), and a statement repeated whole in a file counts its entries once. A
review found two balanced days reported off, a day off hidden, and a repeated statement's
entries counted twice (on SQLite and PostgreSQL)."""

from __future__ import annotations

from html import unescape
from typing import Any

import httpx
import pytest

from reconciliation.sources.camt053 import parse_camt053
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.reconciliation.camt_builder import E, S, camt

IBAN = "FR7630001007941234567890185"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def two_days(first_closing: str) -> bytes:
    """Statement ``SAME`` on 1 October (10.00 in) and on 2 October (5.00 in), no sequence
    number; the first day closes at ``first_closing``, the second opens at 10.00."""
    return camt(
        S(id="SAME", seq=None, day="2026-10-01", opening=("0.00", "CRDT"),
          closing=(first_closing, "CRDT"), entries=[E("10.00", day="2026-10-01")]),
        S(id="SAME", seq=None, day="2026-10-02", opening=("10.00", "CRDT"),
          closing=("15.00", "CRDT"), entries=[E("5.00", day="2026-10-02")]),
    )  # fmt: skip


def test_two_days_under_one_id_are_each_checked_on_their_own() -> None:
    assert parse_camt053(two_days("10.00"), "x.xml").problems == ()  # both balance
    problems = parse_camt053(two_days("12.00"), "x.xml").problems  # day 1 closes 2.00 off
    assert len(problems) == 1 and "SAME" in problems[0], problems


def test_pages_of_one_statement_are_still_checked_together() -> None:
    """A statement in two pages (the first without a closing balance): the first opens,
    the last closes, the entries of both count."""
    data = camt(
        S(id="P", seq=7, opening=("0.00", "CRDT"), closing=None, entries=[E("10.00")]),
        S(id="P", seq=7, opening=None, closing=("30.00", "CRDT"), entries=[E("20.00")]),
    )
    assert parse_camt053(data, "pages.xml").problems == ()
    off = data.replace(b"30.00</Amt>", b"31.00</Amt>")
    assert len(parse_camt053(off, "pages.xml").problems) == 1


async def test_a_statement_repeated_in_one_file_counts_its_entries_once(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    st = S(id="D1", seq=1, closing=("10.00", "CRDT"), entries=[E("10.00", ref="N1")])
    r = await client.post("/v1/bank-statements", headers=Keys.h(keys.finance),
                          files={"file": ("twice.xml", camt(st, st), "application/xml")})  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["entries"], r.json()["duplicates"]) == (1, 1)
    # two identical entries inside one statement are still two (two card payments alike)
    two = S(id="D2", seq=2, opening=("10.00", "CRDT"), closing=("16.00", "CRDT"),
            entries=[E("3.00"), E("3.00")])  # fmt: skip
    r = await client.post("/v1/bank-statements", headers=Keys.h(keys.finance),
                          files={"file": ("two.xml", camt(two), "application/xml")})  # fmt: skip
    assert (r.json()["entries"], r.json()["duplicates"]) == (2, 0), r.text


async def test_an_entry_imported_before_and_booked_on_another_day_is_said(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """The bank's reference ASR-7 booked on 1 October, then in a later file on 2 October:
    the same entry, counted once on the day first imported, and the import says so (it was
    a silent duplicate); the page says it in French. The same day again says nothing."""
    first = camt(S(id="D1", seq=1, day="2026-10-01", closing=("10.00", "CRDT"),
                   entries=[E("10.00", day="2026-10-01", servicer_ref="ASR-7")]))  # fmt: skip
    moved = camt(S(id="D2", seq=2, day="2026-10-02", opening=("0.00", "CRDT"),
                   closing=("10.00", "CRDT"),
                   entries=[E("10.00", day="2026-10-02", servicer_ref="ASR-7")]))  # fmt: skip
    same = camt(S(id="D1", seq=1, day="2026-10-01", closing=("10.00", "CRDT"),
                  entries=[E("10.00", day="2026-10-01", servicer_ref="ASR-7", text="x")]))  # fmt: skip
    done = []
    for name, data in (("1.xml", first), ("2.xml", moved), ("3.xml", same)):
        r = await client.post(
            "/v1/bank-statements", headers=Keys.h(keys.finance),
            files={"file": (name, data, "application/xml")},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        done.append(r.json())
    assert [(d["entries"], d["duplicates"]) for d in done] == [(1, 0), (0, 1), (0, 1)]
    assert done[1]["problems"] == [
        "entry ASR-7 is booked on 2026-10-02 in this file and was imported before as booked "
        "on 2026-10-01: the first booking day is kept"
    ]
    assert not any("ASR-7" in p for p in done[2]["problems"])
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = unescape((await client.get("/finance/bank-statements")).text)
    assert (
        "L'écriture ASR-7 est comptabilisée le 2 octobre 2026 dans ce fichier et a déjà été "
        "importée comptabilisée le 1er octobre 2026\u00a0: le premier jour est retenu." in page
    )
