"""What the bank's statements tell, when they are not one unbroken run: statements up to
Wednesday 28 October, then November's, and none of 29 and 30 October. The bank has not told
what it credited on those days: a payout due then is in transit, not missing in the bank,
however late the statements imported after the gap go."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html import unescape
from typing import Any

import httpx

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from payments.providers.simulator.commands import bank_statement_file
from reconciliation.coverage import BalanceRow, Told, covered_until, gaps, told
from reconciliation.digest import checksum
from reconciliation.matching import reconcile
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, found, run
from tests.reconciliation.world import build
from tests.test_year_boundaries import Clock

OCT_28 = dt.date(2026, 10, 28)
NOV_2, NOV_30 = dt.date(2026, 11, 2), dt.date(2026, 11, 30)


async def _october(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: Clock
) -> tuple[Any, Any]:
    """Two payouts: Tuesday 27 and Friday 30 October."""
    clock.set(dt.datetime(2026, 10, 26, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    clock.set(dt.datetime(2026, 10, 27, 10, tzinfo=UTC))
    (first,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    clock.set(dt.datetime(2026, 10, 29, 10, tzinfo=UTC))
    await paid_invoice(client, app, keys.urbanisme, reference="B", amount=4000)
    clock.set(dt.datetime(2026, 10, 30, 10, tzinfo=UTC))
    (last,) = await sim(app).pay_out()
    await app.state.applier.process_batch()
    assert last.payout.arrival_date == dt.date(2026, 10, 30)
    return first.payout, last.payout


async def _import(client: httpx.AsyncClient, keys: Keys, name: str, content: bytes) -> None:
    r = await client.post(
        "/v1/bank-statements", headers=Keys.h(keys.finance),
        files={"file": (name, content, "application/xml")},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text


async def _to_28_then_november(
    app: Any,
    client: httpx.AsyncClient,
    keys: Keys,
    settings: Settings,
    clock: Clock,
    *,
    both_in_opening: bool,
) -> tuple[Any, Any, dict[str, Any]]:
    """October's two payouts, statements imported to Wednesday 28 October, then November's
    (none for 29 and 30 October), opening on both payouts (``both_in_opening``: the bank
    booked the second in the days no statement came for) or on the first alone; and
    October's run."""
    first, last = await _october(app, client, keys, clock)
    clock.set(dt.datetime(2026, 12, 3, 12, tzinfo=UTC))
    to_28 = await bank_statement_file(
        settings, OCT_FIRST, OCT_28, now=dt.datetime(2026, 10, 28, 22, tzinfo=UTC)
    )
    await _import(client, keys, "octobre.xml", to_28.content)
    opening = first.amount + (last.amount if both_in_opening else 0)
    november = bank_statement(
        [], BankAccount(settings.bank_iban), opening, NOV_2, NOV_30,
        now=dt.datetime(2026, 11, 30, 22, tzinfo=UTC),
    )  # fmt: skip
    await _import(client, keys, "novembre.xml", november)
    return first, last, await run(client, keys, OCT_FIRST, OCT_LAST)


async def test_statements_after_a_gap_do_not_make_the_gaps_payouts_missing(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """November's statements open with what the bank held after 30 October: both payouts
    (the statements of 29 and 30 October, which booked the second, never came)."""
    _first, last, doc = await _to_28_then_november(
        app, client, keys, settings, clock, both_in_opening=True
    )
    assert found(doc) == [], doc["discrepancies"]
    assert last.id in doc["summary"]["in_transit"]
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    assert (bank["as_of"], bank["difference"]) == ("2026-10-28", 0)


async def test_statements_that_follow_on_without_a_gap_in_the_balance_tell_the_payout_is_missing(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """The same days without statements, but November opens on the balance of 28 October:
    nothing came in between (a bank that writes no statement for a day without entries), so
    the bank has told, and the payout of the 30th never reached it."""
    _first, last, doc = await _to_28_then_november(
        app, client, keys, settings, clock, both_in_opening=False
    )
    assert found(doc) == [("missing_in_bank", last.amount, last.id)], doc["discrepancies"]


def _rows(*statements: tuple[str, str, str, int | None, int, dt.date]) -> list[BalanceRow]:
    """(import, statement, currency, opening or None, closing, day), in import order."""
    rows: list[BalanceRow] = []
    for imp, st, cur, opened, closed, day in statements:
        if opened is not None:
            rows.append(BalanceRow(len(rows), imp, st, cur, "OPBD", opened, day))
        rows.append(BalanceRow(len(rows), imp, st, cur, "CLBD", closed, day))
    return rows


def test_each_currency_is_told_up_to_its_own_gap() -> None:
    """EUR statements to the 28th then November's, opening on more than the 28th closed
    on; USD ones every day to 2 November, one of them without an opening balance: EUR is told
    to the 28th, USD to the 2nd. Until the gap, the day is the statements' last."""
    oct_ = [dt.date(2026, 10, d) for d in (26, 27, 28, 29, 30)]
    rows = _rows(
        ("i1", "E26", "EUR", 0, 100, oct_[0]), ("i1", "E27", "EUR", 100, 100, oct_[1]),
        ("i1", "E28", "EUR", 100, 250, oct_[2]),
        ("i2", "E02", "EUR", 900, 900, NOV_2), ("i2", "E03", "EUR", 900, 900, dt.date(2026, 11, 3)),
        ("i1", "U29", "USD", 0, 5, oct_[3]), ("i1", "U30", "USD", None, 7, oct_[4]),
        ("i3", "U02", "USD", 7, 7, NOV_2),
    )  # fmt: skip
    assert covered_until(rows, OCT_LAST) == {"EUR": OCT_28, "USD": NOV_2}
    # November's run starts after the gap: its statements are one unbroken run
    assert covered_until(rows, NOV_30)["EUR"] == dt.date(2026, 11, 3)
    # a statement opening on what the one before closed on follows on, a day without
    # statement between them or not
    follows = _rows(("i1", "E28", "EUR", 100, 250, oct_[2]), ("i2", "E02", "EUR", 250, 900, NOV_2))
    assert covered_until(follows, OCT_LAST) == {"EUR": NOV_2}


def test_pages_and_statements_issued_again() -> None:
    """A statement in two pages opens on its first and closes on its last; a statement
    issued again with another closing balance counts as imported last."""
    d1, d2 = OCT_28, dt.date(2026, 10, 29)
    rows = [
        BalanceRow(0, "i1", "S#1", "EUR", "OPBD", 100, d1),  # page 1 of the 28th
        BalanceRow(1, "i1", "S#1", "EUR", "OPBD", 100, d1),  # page 2 repeats it
        BalanceRow(2, "i1", "S#1", "EUR", "CLBD", 300, d1),
        BalanceRow(3, "i1", "S#2", "EUR", "OPBD", 350, d2),  # opens on another balance
        BalanceRow(4, "i1", "S#2", "EUR", "CLBD", 350, d2),
    ]
    assert covered_until(rows, d1) == {"EUR": d1}
    # the 28th issued again, closing on 350: the 29th follows on
    again = [*rows, BalanceRow(5, "i2", "S#1", "EUR", "OPBD", 100, d1),
             BalanceRow(6, "i2", "S#1", "EUR", "CLBD", 350, d1)]  # fmt: skip
    assert covered_until(again, d1) == {"EUR": d2}


def test_the_checksum_changes_with_the_days_the_statements_cover() -> None:
    """Two runs told up to two other days by the bank's statements were made on other
    inputs (a payout in transit in one is missing in the other): their checksums differ."""
    inputs = build([[(2500, 40)]] * 3).inputs()
    sums = {
        checksum(dataclasses.replace(inputs, bank_covered_until=covered))
        for covered in ({}, {"EUR": OCT_28}, {"EUR": NOV_2}, {"EUR": OCT_28, "USD": OCT_28})
    }
    assert len(sums) == 4


def test_the_days_of_a_gap_are_the_ones_between_the_statements_around_it() -> None:
    """EUR statements to Friday 9 October, then from Wednesday 14th, opening on more than
    the 9th closed on: the statements of 12 and 13 October were never imported."""
    oct_ = {d: dt.date(2026, 10, d) for d in (8, 9, 14, 15)}
    rows = _rows(
        ("i1", "E08", "EUR", 0, 100, oct_[8]), ("i1", "E09", "EUR", 100, 100, oct_[9]),
        ("i2", "E14", "EUR", 600, 600, oct_[14]), ("i2", "E15", "EUR", 600, 650, oct_[15]),
    )  # fmt: skip
    assert gaps(rows) == {"EUR": ((dt.date(2026, 10, 10), dt.date(2026, 10, 13)),)}
    assert gaps(rows[:2]) == {}  # statements that follow on: no gap


def test_a_payout_missing_where_the_statements_have_a_gap_says_so() -> None:
    """The payout due on Monday 12 October never matched a credit, and the bank's statements
    of 10 to 13 October were never imported: it is still missing in the bank (the month's
    closing balance, cumulative, may well hold it), and the discrepancy says where to look."""
    w = build([[(2500, 40)]] * 22)
    (due,) = [p for p in w.payouts if p.arrival_date == dt.date(2026, 10, 12)]
    w.bank = [b for b in w.bank if due.id not in b.text]
    gap = ((dt.date(2026, 10, 10), dt.date(2026, 10, 13)),)
    inputs = dataclasses.replace(w.inputs(), bank_gaps={"EUR": gap})
    (d,) = reconcile(inputs).discrepancies
    assert (d.category, d.payout_id) == ("missing_in_bank", due.id)
    assert "2026-10-10 to 2026-10-13" in d.detail and "never imported" in d.detail
    # a gap after its window says nothing of it
    later = dataclasses.replace(inputs, bank_gaps={"EUR": ((dt.date(2026, 10, 20),) * 2,)})
    (d,) = reconcile(later).discrepancies
    assert "never imported" not in d.detail


async def test_a_payout_due_in_a_gap_of_the_month_says_which_statements_never_came(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """Statements to Monday 26 October and from Thursday 29th (those of 27 and 28 never
    came): the payout the bank credited on the 27th is missing in the bank, the month's
    balance (cumulative) agreeing with the ledger, and the discrepancy names the days whose
    statements were never imported."""
    first, last = await _october(app, client, keys, clock)
    clock.set(dt.datetime(2026, 12, 3, 12, tzinfo=UTC))
    for name, lo, hi in (("debut.xml", OCT_FIRST, dt.date(2026, 10, 26)),
                         ("fin.xml", dt.date(2026, 10, 29), OCT_LAST)):  # fmt: skip
        part = await bank_statement_file(
            settings, lo, hi, now=dt.datetime(2026, 11, 2, 22, tzinfo=UTC)
        )
        await _import(client, keys, name, part.content)
    doc = await run(client, keys, OCT_FIRST, OCT_LAST)
    (d,) = doc["discrepancies"]
    assert (d["category"], d["payout_id"]) == ("missing_in_bank", first.id)
    assert "statements of 2026-10-27 to 2026-10-28 were never imported" in d["detail"]
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    assert (bank["as_of"], bank["difference"]) == ("2026-10-31", 0)


def test_a_months_statement_after_a_gap_keeps_its_own_days_out_of_the_gap() -> None:
    """Daily statements to Wednesday 28 October, then one statement for all of November,
    closing on the 30th and opening on more than the 28th closed on, its opening balance
    dated 31 October (the day before, as some banks date it) or 1 November (its first day):
    the gap ends on the opening balance's day, not with the month November's statement tells
    of (it was 29 October to 29 November). A bank dating the opening on the first day makes
    that day one too many: the balances alone do not say which way the bank dates it."""
    for opened_on, last_missing in ((dt.date(2026, 11, 1), dt.date(2026, 11, 1)),
                                    (dt.date(2026, 10, 31), dt.date(2026, 10, 31))):  # fmt: skip
        rows = [
            BalanceRow(0, "i1", "E28#1", "EUR", "OPBD", 100, OCT_28),
            BalanceRow(1, "i1", "E28#1", "EUR", "CLBD", 250, OCT_28),
            BalanceRow(2, "i2", "NOV#2", "EUR", "OPBD", 900, opened_on),
            BalanceRow(3, "i2", "NOV#2", "EUR", "CLBD", 900, NOV_30),
        ]
        assert gaps(rows) == {"EUR": ((dt.date(2026, 10, 29), last_missing),)}


def test_what_the_statements_tell_per_currency() -> None:
    """The bank statements page's figures: per currency, the first and last day, the last
    closing balance (of the statement imported last, for a day issued again) and the gaps."""
    oct_ = {d: dt.date(2026, 10, d) for d in (8, 9, 14, 15)}
    rows = _rows(
        ("i1", "E08", "EUR", 0, 100, oct_[8]), ("i1", "E09", "EUR", 100, 100, oct_[9]),
        ("i2", "E14", "EUR", 600, 600, oct_[14]), ("i2", "E15", "EUR", 600, 650, oct_[15]),
        ("i1", "U09", "USD", 0, -30, oct_[9]),
        ("i3", "E15", "EUR", 600, 700, oct_[15]),  # the 15th issued again
    )  # fmt: skip
    assert told(rows) == [
        Told("EUR", oct_[8], oct_[15], 700, ((dt.date(2026, 10, 10), dt.date(2026, 10, 13)),)),
        Told("USD", oct_[9], oct_[9], -30, ()),
    ]
    assert told([]) == []


async def test_the_bank_statements_api_and_page_say_how_far_the_statements_go(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """Statements to Wednesday 28 October, then November's: the API's list, the bank
    statements page and the dashboard tell the first and last day, the closing balance, and
    29 October to 1 November as never imported."""
    first, last, _doc = await _to_28_then_november(
        app, client, keys, settings, clock, both_in_opening=True
    )
    r = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    assert r.status_code == 200, r.text
    (told_eur,) = r.json()["coverage"]
    assert told_eur == {
        "account": settings.bank_iban, "currency": "EUR", "first_day": "2026-10-01",
        "last_day": "2026-11-30", "closing_balance": first.amount + last.amount,
        "gaps": [{"from": "2026-10-29", "to": "2026-11-01"}], "breaks": [],
    }  # fmt: skip
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = await client.get("/finance/bank-statements?lang=en")
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))
    assert "What the statements tell" in text
    assert "1 October 2026 30 November 2026" in text
    assert "29 October 2026 – 1 November 2026" in text
    dashboard = await client.get("/finance/?lang=en")
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dashboard.text)))
    held = first.amount + last.amount
    closing = f"€{held // 100:,}.{held % 100:02d}"
    assert (
        f"The bank's statements (EUR): up to 30 November 2026, closing balance {closing}." in text
    )
    assert "Days never imported: 29 October 2026 – 1 November 2026." in text
