"""What the bank's statements tell, on what real banks send (a review of ``coverage``): a day
the bank splits in several statements, each opening on the one before it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from payments.providers.simulator.camt053 import BankAccount, bank_statement
from payments.providers.simulator.commands import bank_statement_file
from reconciliation import bank_repository as bank_repo
from reconciliation.coverage import BalanceRow, breaks, closing_on, covered_until, gaps, told
from reconciliation.digest import checksum
from reconciliation.matching import reconcile
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.reconciliation.camt_builder import E, S, camt
from tests.reconciliation.months import OCT_FIRST, OCT_LAST, UTC, found, run
from tests.reconciliation.test_coverage_review import _import, _october
from tests.reconciliation.world import build
from tests.test_year_boundaries import Clock

SAMPLES = Path(__file__).parent / "samples"
SAMPLE_IBAN = "NL26VAYB8060476890"
OCT_30, OCT_31 = dt.date(2026, 10, 30), dt.date(2026, 10, 31)
NOV_2, NOV_3, NOV_4 = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=SAMPLE_IBAN)  # type: ignore[no-any-return]


def _rows(*statements: tuple[str, str, int | None, int, dt.date]) -> list[BalanceRow]:
    """(import, statement, opening or None, closing, day) in EUR, in import order."""
    rows: list[BalanceRow] = []
    for imp, st, opened, closed, day in statements:
        if opened is not None:
            rows.append(BalanceRow(len(rows), imp, st, "EUR", "OPBD", opened, day))
        rows.append(BalanceRow(len(rows), imp, st, "EUR", "CLBD", closed, day))
    return rows


def test_a_day_split_in_two_statements_is_no_gap() -> None:
    """Monday 2 November in two statements (a bank splitting a day's entries), the second
    opening on what the first closed on, both closing on the 2nd: nothing is missing, and
    the bank has told up to the 4th. The second is not the first issued again: taking it
    for that made a gap of 31 October to 1 November, and October's run put a payout due on
    the 30th that the bank never credited in transit instead of missing in the bank."""
    rows = _rows(
        ("i1", "D30#1", 100, 250, OCT_30),
        ("i2", "D02a#2", 250, 400, NOV_2), ("i2", "D02b#3", 400, 450, NOV_2),
        ("i2", "D03#4", 450, 450, NOV_3), ("i2", "D04#5", 450, 450, NOV_4),
    )  # fmt: skip
    assert gaps(rows) == {}
    assert covered_until(rows, OCT_31) == {"EUR": NOV_4}
    (eur,) = told(rows)
    assert (eur.first, eur.last, eur.closing, eur.gaps) == (OCT_30, NOV_4, 450, ())
    # October's run: the payout due on Friday 30 October, never credited, is missing
    w = build([[(2500, 40)]] * 22)
    last = w.payouts[-1]
    assert last.arrival_date == OCT_30
    w.bank = [b for b in w.bank if last.id not in b.text]
    inputs = dataclasses.replace(w.inputs(), bank_covered_until=covered_until(rows, OCT_31))
    result = reconcile(inputs)
    assert [(d.category, d.payout_id) for d in result.discrepancies] == [
        ("missing_in_bank", last.id)
    ]
    # the same day's statement issued again (opening where the first opened) still counts
    # alone, imported last
    again = [
        *rows,
        BalanceRow(len(rows), "i3", "D02a#2", "EUR", "OPBD", 250, NOV_2),
        BalanceRow(len(rows) + 1, "i3", "D02a#2", "EUR", "CLBD", 450, NOV_2),
    ]
    assert gaps(again) == {} and covered_until(again, OCT_31) == {"EUR": NOV_4}


async def test_the_sample_banks_two_statements_of_one_day_are_no_gap(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The public sample's bank writes 31 December 2014 in two statements (253…, closing on
    27.00, then 254…, opening on it and closing on 20.00). With the 30th's statement imported
    before, the bank statements list said 31 December was never imported."""
    day30 = camt(
        S(id="252EUR", seq=12311, iban=SAMPLE_IBAN, opening=("10.00", "CRDT"),
          closing=("18.15", "CRDT"), day="2014-12-30",
          entries=[E("8.15", ref="R30", day="2014-12-30")]),
    )  # fmt: skip
    for name, data in (("30.xml", day30), ("31.xml", (SAMPLES / "camt053.v2.multi.statement.xml").read_bytes())):  # fmt: skip
        r = await client.post(
            "/v1/bank-statements", headers=Keys.h(keys.finance),
            files={"file": (name, data, "application/xml")},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    r = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    (eur,) = r.json()["coverage"]
    assert (eur["first_day"], eur["last_day"], eur["closing_balance"], eur["gaps"]) == (
        "2014-12-30", "2014-12-31", 2000, [],
    )  # fmt: skip
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = (await client.get("/finance/bank-statements")).text  # French: "lacunes" is feminine
    cell = re.search(r'<td class="long" data-label="Lacunes">\s*([^<]*?)\s*</td>', page)
    assert cell is not None and cell.group(1) == "Aucune"


def test_a_months_statement_over_daily_ones_is_no_gap() -> None:
    """Daily statements from 28 September to 27 November, and the bank's statement for all
    of November (opening on 30 October's closing, dated 1 November or 31 October as banks
    date it; closing on Monday 30th) from another, overlapping file. It opens on a day the
    daily ones told already: it follows the statement closed before its opening, not the
    one closed just before its closing day. That made 28 November a day never imported
    (and October told only to the 27th)."""
    day, balance, daily = dt.date(2026, 9, 28), 0, []
    closing: dict[dt.date, int] = {}
    while day <= dt.date(2026, 11, 27):
        if day.weekday() < 5:
            daily.append(("i1", f"D{day:%m%d}#1", balance, balance + 100, day))
            balance += 100
            closing[day] = balance
        day += dt.timedelta(days=1)
    end = dt.date(2026, 11, 30)
    for opened_on in (dt.date(2026, 11, 1), OCT_31):
        rows = _rows(*daily, ("i2", "M11#1", closing[OCT_30], balance + 100, opened_on))
        rows[-1] = BalanceRow(rows[-1].seq, "i2", "M11#1", "EUR", "CLBD", balance + 100, end)
        assert gaps(rows) == {}, opened_on
        assert covered_until(rows, OCT_31) == {"EUR": end}, opened_on
    # one opening on another balance than 30 October's closing still follows a gap
    rows = _rows(*daily, ("i2", "M11#1", closing[OCT_30] + 1, balance + 100, OCT_31))
    rows[-1] = BalanceRow(rows[-1].seq, "i2", "M11#1", "EUR", "CLBD", balance + 100, end)
    assert gaps(rows) != {}
    assert covered_until(rows, OCT_31) == {"EUR": dt.date(2026, 11, 27)}


def test_a_statement_not_opening_on_the_day_befores_balance_is_a_break_not_a_missing_day() -> None:
    """Statements of Monday 2 and Tuesday 3 November, the 3rd opening on another balance than
    the 2nd closed on, its opening dated the 3rd (or the 2nd, the day before): no day lies
    between them, so no day's statement is missing; it was named as never imported (the 3rd
    itself, which was imported). It is a break: the 3rd's statement does not open on the
    2nd's balance (the 2nd issued again, or another statement of a day never imported). The
    bank has told up to the 2nd all the same."""
    for opened_on in (NOV_3, NOV_2):
        rows = [
            BalanceRow(0, "i1", "D02#1", "EUR", "OPBD", 100, NOV_2),
            BalanceRow(1, "i1", "D02#1", "EUR", "CLBD", 250, NOV_2),
            BalanceRow(2, "i2", "D03#2", "EUR", "OPBD", 300, opened_on),
            BalanceRow(3, "i2", "D03#2", "EUR", "CLBD", 300, NOV_3),
        ]
        assert gaps(rows) == {}, opened_on
        assert breaks(rows) == {"EUR": ((NOV_3, NOV_2),)}
        (eur,) = told(rows)
        assert (eur.gaps, eur.breaks) == ((), ((NOV_3, NOV_2),))
        assert covered_until(rows, NOV_2) == {"EUR": NOV_2}
    # a day between them is a gap, not a break
    later = [*rows[:2], *(dataclasses.replace(r, day=NOV_4) for r in rows[2:])]
    assert (gaps(later), breaks(later)) == ({"EUR": ((NOV_3, NOV_3),)}, {})


async def test_the_api_and_page_name_a_statement_that_does_not_open_on_the_day_befores(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """30 December closes on 18.15, 31 December opens on 20.00: the API's coverage and the
    bank statements page name the break, and no day as never imported."""
    days = [
        camt(S(id=f"{d}EUR", seq=d, iban=SAMPLE_IBAN, opening=opening, closing=closing,
               day=f"2014-12-{d}", entries=[E(amount, ref=f"R{d}", day=f"2014-12-{d}")]))
        for d, opening, closing, amount in ((30, ("10.00", "CRDT"), ("18.15", "CRDT"), "8.15"),
                                            (31, ("20.00", "CRDT"), ("21.00", "CRDT"), "1.00"))
    ]  # fmt: skip
    for n, data in enumerate(days):
        r = await client.post(
            "/v1/bank-statements", headers=Keys.h(keys.finance),
            files={"file": (f"{n}.xml", data, "application/xml")},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    r = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    (eur,) = r.json()["coverage"]
    assert (eur["gaps"], eur["breaks"]) == ([], [{"day": "2014-12-31", "after": "2014-12-30"}])
    assert (await sign_in(client, keys.finance)).status_code == 303
    page = await client.get("/finance/bank-statements?lang=en")
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))
    assert (
        "31 December 2014: the statement does not open on the closing balance of 30 December 2014"
        in text
    )


def test_a_payout_missing_next_to_a_break_says_which_statements_do_not_follow_on() -> None:
    """The payout due on Monday 12 October never matched a credit, and the statement of
    the 12th does not open on the closing balance of Friday 9th (another statement of those
    days never imported, or one issued again): its discrepancy says so, as one next to a gap
    names the days never imported. A break after its window says nothing of it; and the
    checksum tells runs with and without the break apart."""
    w = build([[(2500, 40)]] * 22)
    (due,) = [p for p in w.payouts if p.arrival_date == dt.date(2026, 10, 12)]
    w.bank = [b for b in w.bank if due.id not in b.text]
    brk = ((dt.date(2026, 10, 12), dt.date(2026, 10, 9)),)
    inputs = dataclasses.replace(w.inputs(), bank_breaks={"EUR": brk})
    (d,) = reconcile(inputs).discrepancies
    assert (d.category, d.payout_id) == ("missing_in_bank", due.id)
    assert (
        "the bank's statement of 2026-10-12 does not open on the closing balance of 2026-10-09"
        in d.detail
    )
    later = dataclasses.replace(
        inputs, bank_breaks={"EUR": ((dt.date(2026, 10, 21), dt.date(2026, 10, 20)),)}
    )
    (d,) = reconcile(later).discrepancies
    assert "does not open" not in d.detail
    assert len({checksum(w.inputs()), checksum(inputs), checksum(later)}) == 3


async def test_a_run_names_the_break_next_to_a_payout_missing_in_the_bank(
    app: Any, client: httpx.AsyncClient, keys: Keys, settings: Settings, clock: Clock
) -> None:
    """Statements to Monday 26 October closing on nothing, then a statement of Tuesday 27th
    opening on the first payout (the bank booked it in another statement of the 27th, never
    imported), then the 28th to the 31st: the first payout is missing in the bank, and its
    discrepancy names the statement that does not open on the day before's balance. The
    month's balance agrees with the ledger."""
    first, last = await _october(app, client, keys, clock)
    clock.set(dt.datetime(2026, 12, 3, 12, tzinfo=UTC))
    oct_26, oct_27 = dt.date(2026, 10, 26), dt.date(2026, 10, 27)
    to_26 = await bank_statement_file(
        settings, OCT_FIRST, oct_26, now=dt.datetime(2026, 10, 26, 22, tzinfo=UTC)
    )
    await _import(client, keys, "debut.xml", to_26.content)
    day_27 = bank_statement(
        [], BankAccount(settings.bank_iban), first.amount, oct_27, oct_27,
        now=dt.datetime(2026, 10, 27, 22, tzinfo=UTC),
    )  # fmt: skip
    await _import(client, keys, "27.xml", day_27)
    rest = await bank_statement_file(
        settings, dt.date(2026, 10, 28), OCT_LAST, now=dt.datetime(2026, 11, 2, 22, tzinfo=UTC)
    )
    await _import(client, keys, "fin.xml", rest.content)
    doc = await run(client, keys, OCT_FIRST, OCT_LAST)
    assert found(doc) == [("missing_in_bank", first.amount, first.id)], doc["discrepancies"]
    (d,) = doc["discrepancies"]
    assert (
        "the bank's statement of 2026-10-27 does not open on the closing balance of 2026-10-26"
        in d["detail"]
    )
    (bank,) = [t for t in doc["tie_outs"] if t["name"] == "bank"]
    assert (bank["as_of"], bank["difference"]) == ("2026-10-31", 0)
    assert last.id not in doc["summary"]["in_transit"]


def test_a_break_after_three_days_with_the_opening_dated_the_day_before_names_no_imported_day() -> (
    None
):
    """Statements of Monday 2, Tuesday 3 and Wednesday 4 November, each opening balance
    dated the day before (as some banks date it), the 4th opening on another balance than
    the 3rd closed on: a break after the 3rd. It was a gap of 3 November, a day whose
    statement was imported (the 4th was taken to follow the 2nd, the day before its
    opening's)."""
    rows = [
        BalanceRow(0, "i1", "D02#1", "EUR", "OPBD", 100, dt.date(2026, 11, 1)),
        BalanceRow(1, "i1", "D02#1", "EUR", "CLBD", 150, NOV_2),
        BalanceRow(2, "i1", "D03#2", "EUR", "OPBD", 150, NOV_2),
        BalanceRow(3, "i1", "D03#2", "EUR", "CLBD", 250, NOV_3),
        BalanceRow(4, "i2", "D04#3", "EUR", "OPBD", 300, NOV_3),
        BalanceRow(5, "i2", "D04#3", "EUR", "CLBD", 300, NOV_4),
    ]
    assert gaps(rows) == {}
    assert breaks(rows) == {"EUR": ((NOV_4, NOV_3),)}
    assert covered_until(rows, NOV_2) == {"EUR": NOV_3}


async def test_a_days_two_statements_imported_in_reverse_order_close_the_day_on_the_last(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """31 December 2014 in two statements (the first closing on 27.00, the second opening
    on it and closing on 47.00), their files uploaded second first: the day closes on the
    second's 47.00, for the coverage and for the bank tie-out alike. The import order made
    the first's 27.00 the day's closing balance, and the bank's days seemed to break."""
    day30 = camt(S(id="252EUR", seq=12311, iban=SAMPLE_IBAN, opening=("10.00", "CRDT"),
                   closing=("18.15", "CRDT"), day="2014-12-30",
                   entries=[E("8.15", ref="R30", day="2014-12-30")]))  # fmt: skip
    first = camt(S(id="253EUR", seq=12312, iban=SAMPLE_IBAN, opening=("18.15", "CRDT"),
                   closing=("27.00", "CRDT"), day="2014-12-31",
                   entries=[E("8.85", ref="R31a", day="2014-12-31")]), msg_id="M2")  # fmt: skip
    second = camt(S(id="254EUR", seq=12313, iban=SAMPLE_IBAN, opening=("27.00", "CRDT"),
                    closing=("47.00", "CRDT"), day="2014-12-31",
                    entries=[E("20.00", ref="R31b", day="2014-12-31")]), msg_id="M3")  # fmt: skip
    for name, data in (("30.xml", day30), ("31b.xml", second), ("31a.xml", first)):
        r = await client.post(
            "/v1/bank-statements", headers=Keys.h(keys.finance),
            files={"file": (name, data, "application/xml")},
        )  # fmt: skip
        assert r.status_code == 201, r.text
    r = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    (eur,) = r.json()["coverage"]
    assert (eur["last_day"], eur["closing_balance"], eur["gaps"], eur["breaks"]) == (
        "2014-12-31", 4700, [], [],
    )  # fmt: skip
    async with app.state.db.engine.connect() as conn:
        closing = await bank_repo.closing_balance(conn, SAMPLE_IBAN, dt.date(2015, 1, 31))
    assert closing["EUR"][:2] == (4700, dt.date(2014, 12, 31))


def test_a_statement_of_a_split_day_uploaded_again_unchanged_changes_nothing() -> None:
    """2 November in two statements (a: 100 to 150, b: 150 to 180), then either of them
    uploaded again unchanged in another file: the day still opens on 100 and closes on 180.
    a again made the day close on 150; b again made it open on 150, a false break after
    30 October's 100."""
    base = [("i0", "D30#1", 90, 100, OCT_30), ("i1", "D02a#2", 100, 150, NOV_2),
            ("i2", "D02b#3", 150, 180, NOV_2)]  # fmt: skip
    for again in (("i3", "D02a#2", 100, 150, NOV_2), ("i3", "D02b#3", 150, 180, NOV_2)):
        rows = _rows(*base, again)
        (eur,) = told(rows)
        assert (eur.closing, eur.gaps, eur.breaks) == (180, (), ()), again
        assert closing_on(rows, NOV_2)["EUR"][:2] == (180, NOV_2), again
