"""The simulator's settlement report: one charge line per succeeded payment, its fee
(``cards.simulator_fee``) taken at once, as a PSP's balance transactions would show."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlmodel import col

from payments.providers.base import SettlementLine
from payments.providers.simulator.models import SimPayment
from regie.kit.database import Database


async def list_settlement_lines(
    db: Database, since: dt.datetime, until: dt.datetime
) -> AsyncIterator[SettlementLine]:
    async with db.session() as s:
        stmt = (
            select(SimPayment)
            .where(
                col(SimPayment.status) == "succeeded",
                col(SimPayment.created_at) >= since,
                col(SimPayment.created_at) < until,
            )  # type: ignore[operator]
            .order_by(col(SimPayment.created_at))
        )
        rows = list((await s.execute(stmt)).scalars())
    for sp in rows:
        yield SettlementLine(
            id=f"txn_{sp.id}",
            type="charge",
            provider_payment_id=sp.id,
            amount=sp.amount,
            fee=sp.fee,
            net=sp.amount - sp.fee,
            currency=sp.currency,
            payout_id=sp.payout_id,
            created=sp.created_at,
        )


async def list_payout_lines(db: Database, payout_id: str) -> AsyncIterator[SettlementLine]:
    """The simulator's payments paid out by ``payout_id``."""
    async with db.session() as s:
        stmt = select(SimPayment).where(col(SimPayment.payout_id) == payout_id)
        rows = list((await s.execute(stmt.order_by(col(SimPayment.created_at)))).scalars())
    for sp in rows:
        yield SettlementLine(
            id=f"txn_{sp.id}",
            type="charge",
            provider_payment_id=sp.id,
            amount=sp.amount,
            fee=sp.fee,
            net=sp.amount - sp.fee,
            currency=sp.currency,
            payout_id=payout_id,
            created=sp.created_at,
            reporting_category="charge",
        )
