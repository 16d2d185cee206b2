"""Statements whose ``<Id>`` comes again, on real files: the public sample's bank, which
reuses one statement id, and the simulator's bank, which writes today's statement again
when asked later. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from payments.providers.simulator.records import PayoutRecord
from reconciliation import bank_repository as bank_repo
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in

SAMPLE = (Path(__file__).parent / "samples" / "camt053.v2.multi.statement.xml").read_bytes()
SAMPLE_IBAN = "NL26VAYB8060476890"
SIM_IBAN = "FR7630001007941234567890185"


@pytest.fixture
def settings(settings_factory: Any, request: pytest.FixtureRequest) -> Settings:
    iban = SAMPLE_IBAN if "sample" in request.node.name else SIM_IBAN
    return settings_factory(bank_iban=iban)  # type: ignore[no-any-return]


async def upload(client: httpx.AsyncClient, keys: Keys, data: bytes, name: str) -> Any:
    r = await client.post(
        "/v1/bank-statements",
        files={"file": (name, data, "application/xml")},
        headers=Keys.h(keys.finance),
    )
    assert r.status_code == 201, r.text
    return r.json()


def first_statement_only(data: bytes) -> bytes:
    start = data.index(b"<Stmt>", data.index(b"</Stmt>"))
    end = data.index(b"</Stmt>", start) + len(b"</Stmt>")
    return data[:start] + data[end:]


@pytest.mark.parametrize("next_number", [b"12313", b"12312"])
async def test_the_sample_bank_reusing_its_statement_id_keeps_each_day(
    app: Any, client: httpx.AsyncClient, keys: Keys, next_number: bytes
) -> None:
    """Day 2 reuses day 1's id, and with 12312 its electronic sequence number too (a bank
    numbering nothing): another day's statement, not the same one issued again."""
    day1 = first_statement_only(SAMPLE)  # 18.15 + 8.85 = 27.00 on 2014-12-31, no reference
    day2 = (
        day1.replace(b"CAMT053RIB000000000001", b"CAMT053RIB000000000002")
        .replace(b"<ElctrncSeqNb>12312<", b"<ElctrncSeqNb>" + next_number + b"<")
        .replace(b'"EUR">27.00<', b'"EUR">147.00<')
        .replace(b">18.15<", b">27.00<")
        .replace(b">8.85<", b">120.00<")
        .replace(b"2014-12-31", b"2015-01-02")
        .replace(b"2014-12-30", b"2015-01-01")
    )
    r1 = await upload(client, keys, day1, "day1.xml")
    r2 = await upload(client, keys, day2, "day2.xml")
    assert (r1["entries"], r1["duplicates"], r1["problems"]) == (1, 0, [])
    repeated = "statement 253EURNL26VAYB8060476890: electronic sequence number 12312 does not follow 12312 (repeated or out of order)"  # fmt: skip
    expected = [] if next_number == b"12313" else [repeated]
    assert (r2["entries"], r2["duplicates"], r2["problems"]) == (1, 0, expected)
    async with app.state.db.engine.connect() as conn:
        lines, _ = await bank_repo.bank_lines(
            conn, SAMPLE_IBAN, dt.date(2014, 12, 1), dt.date(2015, 2, 1)
        )
        tie = await bank_repo.closing_balance(conn, SAMPLE_IBAN, dt.date(2015, 1, 31))
    assert [(b.amount, b.booking_date, b.statement_id) for b in lines] == [
        (885, dt.date(2014, 12, 31), "253EURNL26VAYB8060476890"),
        (12000, dt.date(2015, 1, 2), "253EURNL26VAYB8060476890"),
    ]
    assert {c: v[:2] for c, v in tie.items()} == {"EUR": (14700, dt.date(2015, 1, 2))}
    # the first day's file again, under another name: nothing new, no problem
    again = await upload(
        client, keys, day1.replace(b"RIB000000000001", b"RIB000000000009"), "day1b.xml"
    )
    assert (again["entries"], again["duplicates"]) == (0, 1)


def payout(n: int, created: dt.datetime, day: dt.date) -> PayoutRecord:
    return PayoutRecord(
        id=f"po_sim_{n}", amount=1000 * n, currency="EUR", created=created, arrival_date=day,
        statement_descriptor="SIMULATOR", bank_reference=f"SIMBANK{n:08d}",
    )  # fmt: skip


async def test_the_simulators_statement_of_today_written_again_later_is_the_one_used(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    day = dt.date(2026, 12, 3)
    morning_at = dt.datetime(2026, 12, 3, 8, tzinfo=dt.UTC)
    evening_at = dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC)
    account = BankAccount(SIM_IBAN)
    first = payout(1, morning_at - dt.timedelta(hours=1), day)
    second = payout(2, evening_at - dt.timedelta(hours=1), day)
    morning = bank_statement([first], account, 0, day, day, now=morning_at)
    evening = bank_statement([first, second], account, 0, day, day, now=evening_at)
    await upload(client, keys, morning, "morning.xml")
    r = await upload(client, keys, evening, "evening.xml")
    assert (r["entries"], r["duplicates"]) == (1, 1)
    assert any(
        "SIMBANK-2026-12-03" in p and "issues it again" in p and "30.00 EUR" in p
        for p in r["problems"]
    ), r["problems"]
    async with app.state.db.engine.connect() as conn:
        tie = await bank_repo.closing_balance(conn, SIM_IBAN, day)
    assert {c: v[:2] for c, v in tie.items()} == {"EUR": (3000, day)}


@pytest.mark.postgres
async def test_overlapping_files_imported_at_once_both_succeed(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """Two files sharing entries, uploaded together: one stores the shared entries, the
    other counts them as duplicates (it failed with a 500 on the unique reference when the
    other committed first)."""
    day = dt.date(2026, 12, 3)
    at = dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC)
    shared = [payout(n, at - dt.timedelta(hours=n), day) for n in range(1, 40)]
    for round_ in range(3):
        a = bank_statement(shared + [payout(100 + round_, at, day)], BankAccount(SIM_IBAN), 0, day, day, now=at)  # fmt: skip
        b = bank_statement(shared + [payout(200 + round_, at, day)], BankAccount(SIM_IBAN), 0, day, day, now=at)  # fmt: skip
        ra, rb = await asyncio.gather(
            upload(client, keys, a, f"a{round_}.xml"), upload(client, keys, b, f"b{round_}.xml")
        )
        assert ra["entries"] + rb["entries"] == (39 if round_ == 0 else 0) + 2
    async with app.state.db.engine.connect() as conn:
        lines, _ = await bank_repo.bank_lines(conn, SIM_IBAN, day, day)
    assert len(lines) == 39 + 6


async def test_an_older_issue_of_a_statement_imported_after_the_newer_one_is_not_used(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The bank's evening issue of 3 December's statement is imported, then its morning
    issue (files uploaded out of order): the morning's closing balance, older, replaced the
    evening's, by import order alone. The statement's own creation time (``CreDtTm``) now
    decides: the evening's balance is kept, and the import says why."""
    day = dt.date(2026, 12, 3)
    morning_at = dt.datetime(2026, 12, 3, 8, tzinfo=dt.UTC)
    evening_at = dt.datetime(2026, 12, 3, 17, tzinfo=dt.UTC)
    account = BankAccount(SIM_IBAN)
    first = payout(1, morning_at - dt.timedelta(hours=1), day)
    second = payout(2, evening_at - dt.timedelta(hours=1), day)
    morning = bank_statement([first], account, 0, day, day, now=morning_at)
    evening = bank_statement([first, second], account, 0, day, day, now=evening_at)
    await upload(client, keys, evening, "evening.xml")
    r = await upload(client, keys, morning, "morning.xml")
    assert (r["entries"], r["duplicates"]) == (0, 1)
    (reissued,) = [p for p in r["problems"] if "imported before" in p]
    assert reissued.endswith(
        "was imported before from evening.xml, created 2026-12-03T18:00:00+01:00, with "
        "closing balance 30.00 EUR on 2026-12-03; this file issues it earlier, created "
        "2026-12-03T09:00:00+01:00, with closing balance 10.00 EUR on 2026-12-03: the closing "
        "balance of the later issue is kept"
    ), reissued
    async with app.state.db.engine.connect() as conn:
        tie = await bank_repo.closing_balance(conn, SIM_IBAN, day)
    assert {c: v[:2] for c, v in tie.items()} == {"EUR": (3000, day)}
    listed = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    (eur,) = listed.json()["coverage"]
    assert (eur["closing_balance"], eur["gaps"], eur["breaks"]) == (3000, [], [])
    # the page says it in French, the times as a page writes them, each remark a paragraph
    # of a cell that a phone shows under its column's name (``td.long``)
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get("/finance/bank-statements?lang=fr")).text
    cell = re.search(r'<td class="long" data-label="Remarques">(.*?)</td>', page, re.S)
    assert cell is not None
    remarks = [unescape(re.sub(r"\s+", " ", p)) for p in
               re.findall(r'<p class="problem">(.*?)</p>', cell.group(1), re.S)]  # fmt: skip
    assert len(remarks) == 2 and remarks[1].startswith("Le relevé SIMBANK-2026-12-03"), remarks
    assert (
        "créé le 3 décembre 2026 à 18:00:00 (UTC+01:00)" in remarks[1]
        and "créée le 3 décembre 2026 à 09:00:00 (UTC+01:00)" in remarks[1]
        and remarks[1].endswith("le solde de clôture de l'émission la plus récente est conservé.")
    ), remarks[1]
