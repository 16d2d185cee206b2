"""What ``regie simulator …`` runs (the shell's CLI parses the arguments and prints):
pay the balance out now, write the itemised payout CSV, write the bank's camt.053."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from payments.providers.context import BuildContext
from payments.providers.simulator import build, payouts
from payments.providers.simulator.camt053 import (
    BankAccount,
    bank_statement,
    booking_day,
    statement_days,
)
from payments.providers.simulator.payouts import PayoutMade
from payments.providers.simulator.records import BANK_TZ
from payments.providers.simulator.report import itemised_payout_csv
from regie.kit.bank_days import previous_bank_day
from regie.kit.database import Database
from regie.kit.settings import Settings


async def pay_out_now(settings: Settings) -> list[PayoutMade]:
    """Pay out the available balance; its events go to the regie at ``REGIE_BASE_URL``
    (when it does not answer, its worker re-sends them, or its catch-up pulls them)."""
    ctx = BuildContext(settings, Database(settings.database_url))
    try:
        return await build(ctx).pay_out()
    finally:
        for client in ctx.clients:
            await client.aclose()
        await ctx.db.dispose()


@dataclass(frozen=True)
class Report:
    content: bytes
    payouts: int
    rows: int
    left_out: int = 0  # payouts in another currency than the bank account's
    statements: int = 0  # the bank statements written (one per bank day up to today)
    not_yet_booked: int = 0  # payouts the bank books after today
    debits: int = 0  # of ``payouts`` on the bank statement, the negative payouts' debits


async def settlement_report(settings: Settings, first: dt.date, last: dt.date) -> Report:
    """Stripe's itemised payout reconciliation CSV for the payouts arriving in the period."""
    db = Database(settings.database_url)
    try:
        found = await payouts.payouts_arriving(db, first, last)
    finally:
        await db.dispose()
    text = itemised_payout_csv(found)
    return Report(text.encode(), len(found), sum(len(p.lines) for p in found))


async def bank_statement_file(
    settings: Settings,
    first: dt.date,
    last: dt.date,
    currency: str = "EUR",
    *,
    quirks: bool = False,
    now: dt.datetime | None = None,
) -> Report:
    """The camt.053.001.08 of the bank account ``REGIE_BANK_IBAN`` for the bank days of the
    period up to today: the payouts of its currency booked then (arriving then, or on the
    days the bank is closed just before ``first``: a weekend, or from Good Friday to Easter
    Monday), on top of those booked before."""
    now = now or dt.datetime.now(dt.UTC)
    since = previous_bank_day(first)  # the payouts after it are booked on ``first`` or later
    db = Database(settings.database_url)
    try:
        found = await payouts.payouts_arriving(db, since, last)
        opening = await payouts.paid_before(db, since, currency)
    finally:
        await db.dispose()
    mine = [p for p in found if p.currency == currency]
    opening += sum(p.amount for p in mine if booking_day(p.arrival_date) < first)
    mine = [p for p in mine if booking_day(p.arrival_date) >= first]
    in_period = [p for p in found if booking_day(p.arrival_date) >= first]
    account = BankAccount(iban=settings.bank_iban, currency=currency)
    days = statement_days(first, last, now.astimezone(BANK_TZ).date())
    content = bank_statement(mine, account, opening, first, last, quirks=quirks, now=now)
    booked = [p for p in mine if days and booking_day(p.arrival_date) <= days[-1]]
    return Report(
        content,
        len(booked),
        len(booked),
        left_out=len(in_period) - len(mine),
        statements=len(days),
        not_yet_booked=len(mine) - len(booked),
        debits=sum(1 for p in booked if p.amount < 0),
    )
