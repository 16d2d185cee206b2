"""What ``regie simulator …`` runs (the shell's CLI parses the arguments and prints):
pay the balance out now, write the itemised payout CSV, write the bank's camt.053."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from payments.providers.context import BuildContext
from payments.providers.simulator import build, payouts
from payments.providers.simulator.camt053 import BankAccount, bank_statement
from payments.providers.simulator.payouts import PayoutMade
from payments.providers.simulator.report import itemised_payout_csv
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
    settings: Settings, first: dt.date, last: dt.date, currency: str = "EUR"
) -> Report:
    """The camt.053.001.08 of the bank account ``REGIE_BANK_IBAN`` for the period: the
    payouts of its currency arriving then, on top of those that arrived before."""
    db = Database(settings.database_url)
    try:
        found = await payouts.payouts_arriving(db, first, last)
        opening = await payouts.paid_before(db, first, currency)
    finally:
        await db.dispose()
    mine = [p for p in found if p.currency == currency]
    account = BankAccount(iban=settings.bank_iban, currency=currency)
    content = bank_statement(mine, account, opening, first, last)
    return Report(content, len(mine), len(mine), left_out=len(found) - len(mine))
