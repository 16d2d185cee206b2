"""Importing camt.053 statements on SQLite and PostgreSQL: what identifies an entry without
the bank's reference, statements whose ``<Id>`` repeats (pages, banks that reuse one id,
statements issued again), balances kept per import and the tie-out's closing balance."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from reconciliation import bank_repository as bank_repo
from regie.kit.settings import Settings
from tests.conftest import Keys

from .camt_builder import E, S, camt

IBAN = "FR7630001007941234567890185"
SAMPLE_ID = "253EURNL26VAYB8060476890"  # the public samples' id, which their bank reuses


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def upload(client: httpx.AsyncClient, keys: Keys, data: bytes, name: str) -> Any:
    return await client.post(
        "/v1/bank-statements",
        files={"file": (name, data, "application/xml")},
        headers=Keys.h(keys.finance),
    )


async def stored(app: Any) -> list[tuple[int, str]]:
    async with app.state.db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT amount, bank_reference FROM bank_entries ORDER BY amount")
        )
        return [(int(a), r) for a, r in rows.all()]


async def closing(app: Any, until: str = "2026-12-31") -> dict[str, tuple[int, dt.date]]:
    async with app.state.db.engine.connect() as conn:
        found = await bank_repo.closing_balance(conn, IBAN, dt.date.fromisoformat(until))
    return {cur: (amount, day) for cur, (amount, day, _import) in found.items()}


async def test_two_pages_of_one_statement_keep_both_entries_without_reference(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    pages = camt(
        S(id="STMT-7", page=1, opening=("0.00", "CRDT"), closing=None, entries=[E("11.00")]),
        S(id="STMT-7", page=2, opening=None, closing=("33.00", "CRDT"), entries=[E("22.00")]),
    )
    r = await upload(client, keys, pages, "pages.xml")
    assert r.status_code == 201, r.text
    assert (r.json()["entries"], r.json()["duplicates"], r.json()["problems"]) == (2, 0, [])
    assert [a for a, _ in await stored(app)] == [1100, 2200]
    # the same file again under another name (another SHA-256): nothing new
    again = await upload(client, keys, pages.replace(b"MSG-1", b"MSG-2"), "pages-again.xml")
    assert (again.json()["entries"], again.json()["duplicates"]) == (0, 2)
    assert await closing(app) == {"EUR": (3300, dt.date(2026, 10, 1))}


async def test_a_bank_reusing_its_statement_id_every_day_loses_nothing(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    day1 = camt(
        S(id=SAMPLE_ID, seq=None, day="2014-12-31", closing=("8.85", "CRDT"),
          entries=[E("8.85", day="2014-12-31")]),
    )  # fmt: skip
    day2 = camt(
        S(id=SAMPLE_ID, seq=None, day="2015-01-02", opening=("8.85", "CRDT"),
          closing=("128.85", "CRDT"), entries=[E("120.00", day="2015-01-02")]),
        msg_id="MSG-2",
    )  # fmt: skip
    r1 = (await upload(client, keys, day1, "day1.xml")).json()
    r2 = (await upload(client, keys, day2, "day2.xml")).json()
    assert (r1["entries"], r1["duplicates"]) == (1, 0)
    assert (r2["entries"], r2["duplicates"], r2["problems"]) == (1, 0, [])
    assert [a for a, _ in await stored(app)] == [885, 12000]
    assert await closing(app) == {"EUR": (12885, dt.date(2015, 1, 2))}
    assert await closing(app, "2015-01-01") == {"EUR": (885, dt.date(2014, 12, 31))}


async def test_identical_entries_count_as_many_times_as_the_file_has_them(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Two identical card payments on one day are two entries; a later file repeating the
    day (overlapping) adds only what it has more of, and a different amount is never a
    duplicate."""
    first = camt(S(closing=("20.00", "CRDT"), entries=[E("10.00"), E("10.00")]))
    r = (await upload(client, keys, first, "a.xml")).json()
    assert (r["entries"], r["duplicates"]) == (2, 0)
    overlap = camt(
        S(id="S2", seq=2, closing=("40.00", "CRDT"),
          entries=[E("10.00"), E("10.00"), E("10.00"), E("10.01", text="other")]),
        msg_id="MSG-2",
    )  # fmt: skip
    r = (await upload(client, keys, overlap, "b.xml")).json()
    assert (r["entries"], r["duplicates"]) == (2, 2)
    amounts = [a for a, _ in await stored(app)]
    assert amounts == [1000, 1000, 1000, 1001]
    refs = [ref for _, ref in await stored(app)]
    assert len(set(refs)) == 4 and all(len(x) <= 140 and "+" not in x for x in refs)


async def test_a_statement_issued_again_keeps_both_closing_balances_and_uses_the_later(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The simulator (and some banks) write today's statement again, same id and sequence
    number, with more entries and another closing balance."""
    morning = camt(
        S(id="SIMBANK-2026-12-03", seq=9470, day="2026-12-03", closing=("10.00", "CRDT"),
          entries=[E("10.00", ref="BNK-1", day="2026-12-03")]),
    )  # fmt: skip
    evening = camt(
        S(id="SIMBANK-2026-12-03", seq=9470, day="2026-12-03", closing=("35.00", "CRDT"),
          entries=[E("10.00", ref="BNK-1", day="2026-12-03"),
                   E("25.00", ref="BNK-2", day="2026-12-03")]),
        msg_id="MSG-2",
    )  # fmt: skip
    r1 = (await upload(client, keys, morning, "morning.xml")).json()
    assert r1["problems"] == []
    r2 = (await upload(client, keys, evening, "evening.xml")).json()
    assert (r2["entries"], r2["duplicates"]) == (1, 1)
    sequence, problem = r2["problems"]
    assert "9470 does not follow 9470" in sequence
    assert problem == (
        "statement SIMBANK-2026-12-03 (electronic sequence 9470) was imported before from "
        "morning.xml with closing balance 10.00 EUR on 2026-12-03; this file issues it again "
        "with 1 entry not in it and closing balance 35.00 EUR on 2026-12-03: the later "
        "closing balance is used"
    )
    assert await closing(app) == {"EUR": (3500, dt.date(2026, 12, 3))}
    async with app.state.db.engine.connect() as conn:  # the history is kept, per import
        kept = (await conn.execute(text("SELECT amount FROM bank_balances WHERE type = 'CLBD' ORDER BY id"))).scalars().all()  # fmt: skip
    assert [int(x) for x in kept] == [1000, 3500]
    # the morning's file once more (a new name, a new checksum): it is older, not later
    again = (await upload(client, keys, morning.replace(b"MSG-1", b"MSG-3"), "m2.xml")).json()
    assert again["entries"] == 0
    assert await closing(app) == {"EUR": (1000, dt.date(2026, 12, 3))}


async def test_a_balance_in_another_currency_is_refused_and_nothing_stored(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    usd = camt(S(balance_currency="USD", closing=("5.00", "CRDT"), entries=[E("5.00")]))
    r = await upload(client, keys, usd, "usd.xml")
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "file_invalid"
    assert error["message"].startswith("usd.xml, line ")
    assert "USD" in error["message"] and "EUR" in error["message"]
    assert await stored(app) == [] and await closing(app) == {}


async def test_a_sequence_gap_is_reported_once(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await upload(client, keys, camt(S(id="A", seq=900100)), "a.xml")
    r = await upload(client, keys, camt(S(id="B", seq=900101), S(id="C", seq=900103)), "b.xml")
    problems = r.json()["problems"]
    assert problems == [
        "statement C: electronic sequence number 900103 follows 900101: 900102 missing"
    ]


async def test_an_electronic_sequence_number_of_18_digits_is_stored(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    big = 999_999_999_999_999_998
    r = await upload(client, keys, camt(S(seq=big)), "big.xml")
    assert r.status_code == 201, r.text
    r = await upload(client, keys, camt(S(id="S2", seq=big + 1), msg_id="M2"), "next.xml")
    assert r.status_code == 201 and r.json()["problems"] == []


async def test_a_servicer_reference_already_imported_on_another_amount_is_refused(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """A duplicate is skipped only when it is the same entry: the account servicer's
    reference (AcctSvcrRef, one entry of the account) on another amount refuses the file."""
    await upload(client, keys, camt(S(entries=[E("10.00", servicer_ref="BNK-1")])), "a.xml")
    data = camt(S(id="S2", seq=2, entries=[E("99.00", servicer_ref="BNK-1")]), msg_id="M2")
    r = await upload(client, keys, data, "b.xml")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == (
        "b.xml, line 9: entry BNK-1 (credit of 99.00 EUR) has the reference of another entry "
        "(credit of 10.00 EUR): a bank reference names one entry"
    )
    # the same reference in another statement of one file names that entry too
    same_file = camt(
        S(id="S3", seq=2, entries=[E("5.00", servicer_ref="B7")]),
        S(id="S4", seq=3, entries=[E("6.00", servicer_ref="B7")]),
    )
    r = await upload(client, keys, same_file, "c.xml")
    assert r.status_code == 422 and "c.xml, line 17: entry B7" in r.json()["error"]["message"]
    assert [a for a, _ in await stored(app)] == [1000]
    # (within one statement, one reference on two entries is two entries:
    # test_camt053_shared_reference)


async def test_a_bank_numbering_its_entry_references_per_statement_loses_nothing(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Many banks number NtryRef within each statement (1, 2… every day) and give no
    AcctSvcrRef: the next day's entry 1 is another entry, and the same file sent again
    adds nothing."""
    day1 = camt(S(day="2026-10-01", entries=[E("10.00", ref="1"), E("7.00", ref="2")]))
    day2 = camt(
        S(id="S2", seq=2, day="2026-10-02", entries=[E("99.00", ref="1", day="2026-10-02")]),
        msg_id="M2",
    )
    r1 = (await upload(client, keys, day1, "day1.xml")).json()
    r2 = await upload(client, keys, day2, "day2.xml")
    assert r2.status_code == 201, r2.text
    assert (r1["entries"], r2.json()["entries"], r2.json()["duplicates"]) == (2, 1, 0)
    again = await upload(client, keys, day1.replace(b"MSG-1", b"MSG-9"), "day1-again.xml")
    assert (again.json()["entries"], again.json()["duplicates"]) == (0, 2)
    assert [a for a, _ in await stored(app)] == [700, 1000, 9900]
    assert all(ref.startswith(("1/2026-10-0", "2/2026-10-0")) for _, ref in await stored(app))


async def test_an_entry_stored_under_its_bare_reference_before_is_recognised(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Imports before this change stored an entry without AcctSvcrRef under its bare NtryRef:
    the same entry sent again (same amount, direction, currency) is that one, once; another
    amount under the same NtryRef is another entry."""
    first = camt(S(entries=[E("10.00", ref="1")]))
    r = (await upload(client, keys, first, "old.xml")).json()
    async with app.state.db.engine.begin() as conn:  # as the former key was written
        await conn.execute(text("UPDATE bank_entries SET bank_reference = '1'"))
    again = camt(
        S(id="S2", seq=2, entries=[E("10.00", ref="1"), E("10.00", ref="1"), E("3.00", ref="1")]),
        msg_id="M2",
    )
    r = (await upload(client, keys, again, "again.xml")).json()
    assert (r["entries"], r["duplicates"]) == (2, 1), r
    assert [a for a, _ in await stored(app)] == [300, 1000, 1000]
