"""The simulator's balance history: the lines a charge, a refund and a payout write, as
Stripe's balance transactions (``txn_…``) record them, and the port's view of them.

A charge's fee is taken at once (``cards.simulator_fee``); a refund is negative and
takes no fee back; a payout's own line is negative (the balance leaving for the bank), a
negative payout's positive (the bank's money coming into the balance).
Funds are available at once (``available_on`` = ``created``): the simulator has no
rolling reserve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments.providers.base import SettlementLine
from payments.providers.simulator.models import (
    SimBalanceTransaction,
    SimPayment,
    SimPayout,
    SimRefund,
)
from regie.kit.database import Database
from regie.kit.ids import ulid

# Stripe's word for its processing fee in ``fee_details``: the simulator plays Stripe, so
# code that reads Stripe's lines reads its lines the same way.
FEE_TYPE = "stripe_fee"


def charge_line(sp: SimPayment, description: str) -> SimBalanceTransaction:
    return SimBalanceTransaction(
        id=f"txn_sim_{ulid()}",
        type="charge",
        reporting_category="charge",
        source_id=sp.id,
        payment_id=sp.id,
        amount=sp.amount,
        fee=sp.fee,
        net=sp.amount - sp.fee,
        currency=sp.currency,
        description=description[:500],
        created_at=sp.created_at,
        available_on=sp.created_at,
    )


def refund_line(r: SimRefund, description: str) -> SimBalanceTransaction:
    return SimBalanceTransaction(
        id=f"txn_sim_{ulid()}",
        type="refund",
        reporting_category="refund",
        source_id=r.id,
        payment_id=r.sim_payment_id,
        amount=-r.amount,
        fee=0,
        net=-r.amount,
        currency=r.currency,
        description=f"REFUND FOR CHARGE ({description})"[:500],
        created_at=r.created_at,
        available_on=r.created_at,
    )


def settlement_line(txn: SimBalanceTransaction, arrival: dt.date | None = None) -> SettlementLine:
    """``arrival``: a payout line's payout's arrival day (Stripe's payout ``arrival_date``)."""
    fee_details = ((FEE_TYPE, txn.fee, txn.currency),) if txn.fee else ()
    return SettlementLine(
        id=txn.id,
        type=txn.type,
        provider_payment_id=txn.payment_id,
        amount=txn.amount,
        fee=txn.fee,
        net=txn.net,
        currency=txn.currency,
        payout_id=txn.payout_id,
        created=txn.created_at,
        reporting_category=txn.reporting_category,
        fee_details=fee_details,
        source_id=txn.source_id,
        arrival_date=arrival if txn.type == "payout" else None,
    )


async def _arrivals(s: AsyncSession, rows: list[SimBalanceTransaction]) -> dict[str, dt.date]:
    """The arrival day of each payout whose own line is among ``rows``."""
    ids = {t.payout_id for t in rows if t.type == "payout" and t.payout_id}
    if not ids:
        return {}
    stmt = select(col(SimPayout.id), col(SimPayout.arrival_date)).where(col(SimPayout.id).in_(ids))
    return {pid: day for pid, day in (await s.execute(stmt)).all()}


async def list_settlement_lines(
    db: Database, since: dt.datetime, until: dt.datetime
) -> AsyncIterator[SettlementLine]:
    """Every balance transaction created in ``[since, until)``, oldest first: charges,
    refunds and payouts, each naming the payout that carried it (None: not paid out yet)."""
    async with db.session() as s:
        stmt = (
            select(SimBalanceTransaction)
            .where(
                col(SimBalanceTransaction.created_at) >= since,
                col(SimBalanceTransaction.created_at) < until,
            )
            .order_by(col(SimBalanceTransaction.created_at), col(SimBalanceTransaction.id))
        )
        rows = list((await s.execute(stmt)).scalars())
        arrivals = await _arrivals(s, rows)
    for txn in rows:
        yield settlement_line(txn, arrivals.get(txn.payout_id or ""))


async def list_payout_lines(db: Database, payout_id: str) -> AsyncIterator[SettlementLine]:
    """The lines ``payout_id`` carried and the payout's own line, as Stripe lists a
    payout's balance transactions: their nets add up to zero."""
    async with db.session() as s:
        stmt = (
            select(SimBalanceTransaction)
            .where(col(SimBalanceTransaction.payout_id) == payout_id)
            .order_by(col(SimBalanceTransaction.created_at), col(SimBalanceTransaction.id))
        )
        rows = list((await s.execute(stmt)).scalars())
        arrivals = await _arrivals(s, rows)
    for txn in rows:
        yield settlement_line(txn, arrivals.get(txn.payout_id or ""))
