"""Stripe's itemised payout reconciliation report, for the simulator's payouts (pure).

One row per balance transaction a payout carried, under Stripe's column names
(``payout_reconciliation.itemized``): amounts in major units as exact decimal text
(1234 EUR cents -> ``12.34``, 500 JPY -> ``500``), the currency in lower case, times as
``YYYY-MM-DD HH:MM:SS`` in UTC. ``automatic_payout_effective_at`` is the payout's arrival
day at 00:00:00 UTC, as Stripe dates a payout's arrival. The simulator has no charge
object apart from its payment, so ``charge_id`` repeats the payment's id.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from payments.providers.simulator.records import PayoutRecord, TxnRecord
from regie.kit.money import to_decimal

COLUMNS = (
    "automatic_payout_id",
    "automatic_payout_effective_at",
    "balance_transaction_id",
    "created",
    "available_on",
    "currency",
    "gross",
    "fee",
    "net",
    "reporting_category",
    "source_id",
    "charge_id",
    "payment_intent_id",
    "description",
)


def major(amount: int, currency: str) -> str:
    """Minor units as Stripe's CSV writes them: ``-1234, "EUR"`` -> ``-12.34``."""
    return str(to_decimal(amount, currency))


def stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def row(payout: PayoutRecord, txn: TxnRecord) -> dict[str, str]:
    effective = dt.datetime.combine(payout.arrival_date, dt.time(), dt.UTC)
    return {
        "automatic_payout_id": payout.id,
        "automatic_payout_effective_at": stamp(effective),
        "balance_transaction_id": txn.id,
        "created": stamp(txn.created),
        "available_on": stamp(txn.available_on),
        "currency": txn.currency.lower(),
        "gross": major(txn.gross, txn.currency),
        "fee": major(txn.fee, txn.currency),
        "net": major(txn.net, txn.currency),
        "reporting_category": txn.reporting_category,
        "source_id": txn.source_id,
        "charge_id": txn.payment_id or "",
        "payment_intent_id": txn.payment_id or "",
        "description": txn.description,
    }


def itemised_payout_csv(payouts: Iterable[PayoutRecord]) -> str:
    """The report's text: a header, then each payout's transactions in the given order."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for payout in payouts:
        for txn in payout.lines:
            writer.writerow(row(payout, txn))
    return out.getvalue()
