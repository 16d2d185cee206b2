"""What the simulator's reports are made from: its payouts and the balance transactions
each carried, as plain values (pure, no I/O), so that the CSV (``report``) and the bank
statement (``camt053``) are pure functions of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

# The bank's day: a French bank books and dates in Europe/Paris, so a payout made at
# 23:30 UTC in winter arrives on the next day. Statements, arrival dates and the reports'
# --from/--to are Paris days; the CSV's times are UTC, as Stripe writes them.
BANK_TZ = ZoneInfo("Europe/Paris")

# What the bank shows for each payout (Stripe's payouts read "STRIPE" there).
STATEMENT_DESCRIPTOR = "SIMULATOR"
DEBTOR_NAME = "SIMULATOR PSP"


def bank_day(at: dt.datetime) -> dt.date:
    return at.astimezone(BANK_TZ).date()


@dataclass(frozen=True)
class TxnRecord:
    """One balance transaction a payout carried (never the payout's own line)."""

    id: str
    reporting_category: str  # charge | refund
    source_id: str  # pi_sim_… (a charge) | re_sim_… (a refund)
    payment_id: str | None  # the payment charged or refunded
    gross: int  # minor units; negative for a refund
    fee: int
    net: int
    currency: str
    created: dt.datetime  # UTC
    available_on: dt.datetime  # UTC
    description: str


@dataclass(frozen=True)
class PayoutRecord:
    id: str
    amount: int  # minor units; negative for a negative payout (the bank's account debited)
    currency: str
    created: dt.datetime  # UTC
    arrival_date: dt.date  # the bank's day (Europe/Paris)
    statement_descriptor: str
    bank_reference: str  # the bank's entry reference (AcctSvcrRef), unique and stable
    lines: tuple[TxnRecord, ...] = ()

    @property
    def remittance(self) -> str:
        """The unstructured remittance information the bank shows: "SIMULATOR po_sim_…"."""
        return f"{self.statement_descriptor} {self.id}"
