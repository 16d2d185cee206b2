"""Stripe's balance transactions, as the port's ``SettlementLine`` (for reconciliation).

Each transaction's type is folded onto the port's few kinds (charge, refund, dispute,
payout, fee, adjustment); its source, expanded, names the PaymentIntent or the payout.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from typing import Any

import stripe

from payments.providers.base import SettlementLine
from payments.providers.stripe.errors import pages
from payments.providers.stripe.mapping import ident, integer, obj, text, ts, unix, upper

PAGE_SIZE = 100

_SETTLEMENT_TYPES = {
    "charge": "charge",
    "payment": "charge",
    "refund": "refund",
    "payment_refund": "refund",
    "refund_failure": "refund",
    "payment_failure_refund": "refund",
    "payment_reversal": "refund",
    "payout": "payout",
    "payout_cancel": "payout",
    "payout_failure": "payout",
    "stripe_fee": "fee",
    "stripe_fx_fee": "fee",
    "tax_fee": "fee",
    "network_cost": "fee",
    "application_fee": "fee",
    "application_fee_refund": "fee",
}


async def list_settlement_lines(
    client: stripe.StripeClient, since: dt.datetime, until: dt.datetime
) -> AsyncIterator[SettlementLine]:
    """Balance transactions created in ``[since, until)`` (newest first, as Stripe
    lists them), with their source expanded to find the PaymentIntent."""
    first = client.v1.balance_transactions.list_async(
        {
            "created": {"gte": unix(since), "lt": unix(until)},
            "limit": PAGE_SIZE,
            "expand": ["data.source"],
        }
    )
    async for doc in pages(first):
        yield settlement_line(doc)


async def list_payout_lines(
    client: stripe.StripeClient, payout_id: str
) -> AsyncIterator[SettlementLine]:
    """The balance transactions paid out by ``payout_id`` (Stripe's ``payout`` filter,
    for automatic payouts), each line carrying that payout's id."""
    first = client.v1.balance_transactions.list_async(
        {"payout": payout_id, "limit": PAGE_SIZE, "expand": ["data.source"]}
    )
    async for doc in pages(first):
        yield settlement_line(doc, payout_id=payout_id)


def _fee_details(txn: Mapping[str, Any]) -> tuple[tuple[str, int, str], ...]:
    out = []
    for d in txn.get("fee_details") or []:
        if isinstance(d, Mapping):
            out.append(
                (str(d.get("type") or ""), integer(d.get("amount")) or 0, upper(d.get("currency")))
            )
    return tuple(out)


def _rate(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    return repr(value) if isinstance(value, float) else str(value)


def settlement_line(txn: Mapping[str, Any], *, payout_id: str | None = None) -> SettlementLine:
    source = obj(txn.get("source"))
    source_id = ident(txn.get("source")) or ""
    source_object = text(source.get("object")) if source else None
    raw_type = str(txn.get("type") or "")
    kind = _SETTLEMENT_TYPES.get(raw_type, "adjustment")
    if kind == "adjustment" and (
        txn.get("reporting_category") in ("dispute", "dispute_reversal")
        or source_object == "dispute"
        or source_id.startswith("dp_")
    ):
        kind = "dispute"
    elif kind == "adjustment" and (
        txn.get("reporting_category") == "refund_failure"
        or source_object == "refund"
        or source_id.startswith(("re_", "pyr_"))
    ):
        # Stripe lists a refund that fails after it was paid out (its money comes back) as
        # an adjustment whose reporting category is refund_failure and whose source is the
        # refund: the refund's line, which the ledger's reversal of that refund matches
        kind = "refund"
    payment_id = None
    if source is not None and source_object in ("charge", "refund", "dispute"):
        payment_id = ident(source.get("payment_intent"))
    if payout_id is None:
        payout_id = source_id if source_object == "payout" or source_id.startswith("po_") else None
    amount, fee = integer(txn.get("amount")) or 0, integer(txn.get("fee")) or 0
    net = integer(txn.get("net"))
    arrival = integer(source.get("arrival_date")) if source and source_object == "payout" else None
    return SettlementLine(
        id=str(txn["id"]),
        type=kind,
        provider_payment_id=payment_id,
        amount=amount,
        fee=fee,
        net=net if net is not None else amount - fee,
        currency=upper(txn.get("currency")),
        payout_id=payout_id,
        created=ts(txn.get("created")),
        reporting_category=text(txn.get("reporting_category")),
        fee_details=_fee_details(txn),
        exchange_rate=_rate(txn.get("exchange_rate")),
        source_id=source_id or None,
        arrival_date=ts(arrival).date() if arrival is not None else None,
    )
