"""The simulated bank keeps TARGET2's calendar, as a real one does: no statement on 25 and
26 December, 1 January, Good Friday, Easter Monday or 1 May (it wrote one for every Monday
to Friday), a payout arriving then booked on the next bank day, and the electronic sequence
numbers and balances following on over them as over a weekend."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from payments.providers.simulator.camt053 import (
    bank_statement,
    booking_day,
    sequence_number,
    statement_days,
)
from tests.payments.test_simulator_reports import ACCOUNT, NS, ids_and_numbers, payout

NOW = dt.datetime(2027, 4, 10, tzinfo=dt.UTC)
CHRISTMAS, MONDAY_28 = dt.date(2026, 12, 25), dt.date(2026, 12, 28)


def _balances(doc: bytes) -> list[tuple[str, str, str]]:
    """(day, code, amount) of each statement's balances, in order."""
    return [
        (
            b.findtext("c:Dt/c:Dt", namespaces=NS),
            b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS),
            b.findtext("c:Amt", namespaces=NS),
        )
        for b in etree.fromstring(doc).findall(".//c:Stmt/c:Bal", NS)
    ]


def test_no_statement_on_christmas_and_the_numbers_continue() -> None:
    doc = bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 21), dt.date(2026, 12, 31), now=NOW)
    found = ids_and_numbers(doc)
    days = [dt.date.fromisoformat(i.removeprefix("SIMBANK-")) for i, _ in found]
    assert days == [dt.date(2026, 12, d) for d in (21, 22, 23, 24, 28, 29, 30, 31)]
    numbers = [n for _, n in found]
    assert numbers == list(range(numbers[0], numbers[0] + 8))
    assert sequence_number(MONDAY_28) == sequence_number(dt.date(2026, 12, 24)) + 1
    # Christmas shares Thursday's number, as a Saturday shares Friday's
    assert sequence_number(CHRISTMAS) == sequence_number(dt.date(2026, 12, 24))
    # December 2026 has 23 weekdays, 22 bank days
    month = bank_statement([], ACCOUNT, 0, dt.date(2026, 12, 1), dt.date(2026, 12, 31), now=NOW)
    assert len(ids_and_numbers(month)) == 22
    # 1 January 2027 (a Friday): Thursday the 31st, then Monday the 4th
    assert statement_days(dt.date(2026, 12, 31), dt.date(2027, 1, 4), NOW.date()) == [
        dt.date(2026, 12, 31), dt.date(2027, 1, 4),
    ]  # fmt: skip
    assert sequence_number(dt.date(2027, 1, 4)) == sequence_number(dt.date(2026, 12, 31)) + 1


def test_a_payout_arriving_on_christmas_is_booked_on_monday_and_balances_follow_on() -> None:
    assert booking_day(CHRISTMAS) == MONDAY_28
    p = payout(1, CHRISTMAS, 4935)
    doc = bank_statement([p], ACCOUNT, 1000, dt.date(2026, 12, 24), dt.date(2026, 12, 28), now=NOW)
    assert [i for i, _ in ids_and_numbers(doc)] == ["SIMBANK-2026-12-24", "SIMBANK-2026-12-28"]
    assert _balances(doc) == [
        ("2026-12-24", "OPBD", "10.00"), ("2026-12-24", "CLBD", "10.00"),
        ("2026-12-28", "OPBD", "10.00"), ("2026-12-28", "CLBD", "59.35"),
    ]  # fmt: skip
    (booked,) = etree.fromstring(doc).findall(".//c:Ntry", NS)
    assert booked.findtext("c:BookgDt/c:Dt", namespaces=NS) == "2026-12-28"


def test_easter_2027() -> None:
    # Good Friday 26 March, Easter Monday 29 March 2027
    days = statement_days(dt.date(2027, 3, 22), dt.date(2027, 4, 2), NOW.date())
    assert dt.date(2027, 3, 26) not in days and dt.date(2027, 3, 29) not in days
    assert len(days) == 8
    assert booking_day(dt.date(2027, 3, 26)) == dt.date(2027, 3, 30)
    assert sequence_number(dt.date(2027, 3, 30)) == sequence_number(dt.date(2027, 3, 25)) + 1
