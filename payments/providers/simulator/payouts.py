"""The simulator's payouts: pay the available balance out to the bank, per currency, and
read payouts back for the reports (``report``, ``camt053``).

A payout carries every balance transaction of its currency not paid out yet (charges net
of their fees, minus refunds); its own line (``payout``, the opposite of its amount) joins
the balance history, and the events ``payout.paid`` then ``payout.reconciled`` are recorded
to be delivered to regie's ``/webhooks/simulator`` like the simulator's payment events. A
currency whose lines add up to less than nothing (refunds beyond its charges) is paid out
all the same, as Stripe does: a negative payout, the PSP taking the difference from the bank
account (its own line is then positive, the bank's money coming into the balance). A
currency whose lines add up to nothing waits for more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import col

from payments.providers.base import EVENT_PAYOUT_PAID, EVENT_PAYOUT_RECONCILED
from payments.providers.simulator.events import new_event
from payments.providers.simulator.models import SimBalanceTransaction, SimPayout
from payments.providers.simulator.records import (
    BANK_TZ,
    STATEMENT_DESCRIPTOR,
    PayoutRecord,
    TxnRecord,
    bank_day,
)
from regie.kit.database import Database
from regie.kit.ids import ulid


@dataclass(frozen=True)
class PayoutMade:
    payout: PayoutRecord
    line_count: int
    event_ids: tuple[str, ...]  # payout.paid, then payout.reconciled
    delivered: bool = False  # both events reached regie's webhook endpoint


def start_of_bank_day(at: dt.datetime) -> dt.datetime:
    """Midnight (Europe/Paris) of ``at``'s bank day, in UTC."""
    midnight = dt.datetime.combine(bank_day(at), dt.time(), BANK_TZ)
    return midnight.astimezone(dt.UTC)


async def pay_out(
    db: Database, now: dt.datetime, *, created_before: dt.datetime | None = None
) -> list[PayoutMade]:
    """Pay out, per currency, the lines not paid out yet and available at ``now`` (and,
    when given, created before ``created_before``). Returns the payouts made."""
    t = SimBalanceTransaction
    made: list[PayoutMade] = []
    async with db.session() as s:
        stmt = (
            select(t)
            .where(col(t.payout_id).is_(None), col(t.available_on) <= now)
            .order_by(col(t.created_at), col(t.id))
            .with_for_update()  # two payouts never carry the same line
        )
        if created_before is not None:
            stmt = stmt.where(col(t.created_at) < created_before)
        by_currency: dict[str, list[SimBalanceTransaction]] = {}
        for txn in (await s.execute(stmt)).scalars():
            by_currency.setdefault(txn.currency, []).append(txn)
        for currency in sorted(by_currency):
            lines = by_currency[currency]
            amount = sum(x.net for x in lines)
            if amount == 0:
                continue  # (negative: a negative payout, the bank's account debited)
            key = ulid()
            payout = SimPayout(
                id=f"po_sim_{key}",
                amount=amount,
                currency=currency,
                status="paid",
                created_at=now,
                arrival_date=bank_day(now),  # the simulator's transfers arrive the same day
                statement_descriptor=STATEMENT_DESCRIPTOR,
                bank_reference=f"SIMBANK{key}",
            )
            s.add(payout)
            for x in lines:
                x.payout_id = payout.id
            s.add(
                SimBalanceTransaction(
                    id=f"txn_sim_{ulid()}",
                    type="payout",
                    reporting_category="payout",
                    source_id=payout.id,
                    amount=-amount,
                    fee=0,
                    net=-amount,
                    currency=currency,
                    description="PAYOUT",
                    created_at=now,
                    available_on=now,
                    payout_id=payout.id,
                )
            )
            data = {
                "payout_id": payout.id,
                "amount": amount,
                "currency": currency,
                "arrival_date": payout.arrival_date.isoformat(),
                "status": "paid",
            }
            paid = new_event(EVENT_PAYOUT_PAID, now, data)
            reconciled = new_event(EVENT_PAYOUT_RECONCILED, now, data)
            s.add_all([paid, reconciled])
            made.append(PayoutMade(_record(payout), len(lines), (paid.id, reconciled.id)))
        await s.commit()
    return made


async def payouts_arriving(
    db: Database, first: dt.date, last: dt.date, *, currency: str | None = None
) -> list[PayoutRecord]:
    """The payouts arriving on the bank days ``first`` to ``last``, each with the lines it
    carried (not its own), in arrival order."""
    p, t = SimPayout, SimBalanceTransaction
    async with db.session() as s:
        stmt = select(p).where(col(p.arrival_date) >= first, col(p.arrival_date) <= last)
        if currency is not None:
            stmt = stmt.where(col(p.currency) == currency)
        stmt = stmt.order_by(col(p.arrival_date), col(p.created_at), col(p.id))
        payouts = list((await s.execute(stmt)).scalars())
        lines: dict[str, list[TxnRecord]] = {x.id: [] for x in payouts}
        if payouts:
            rows = await s.execute(
                select(t)
                .where(col(t.payout_id).in_(list(lines)), col(t.type) != "payout")
                .order_by(col(t.created_at), col(t.id))
            )
            for txn in rows.scalars():
                lines[str(txn.payout_id)].append(_txn(txn))
    return [_record(x, lines[x.id]) for x in payouts]


async def paid_before(db: Database, day: dt.date, currency: str) -> int:
    """What the payouts of ``currency`` arriving before ``day`` brought the account."""
    p = SimPayout
    async with db.session() as s:
        total = (
            await s.execute(
                select(func.coalesce(func.sum(col(p.amount)), 0)).where(
                    col(p.arrival_date) < day, col(p.currency) == currency
                )
            )
        ).scalar_one()
    return int(total)


def _record(p: SimPayout, lines: Sequence[TxnRecord] = ()) -> PayoutRecord:
    return PayoutRecord(
        id=p.id,
        amount=p.amount,
        currency=p.currency,
        created=p.created_at,
        arrival_date=p.arrival_date,
        statement_descriptor=p.statement_descriptor,
        bank_reference=p.bank_reference,
        lines=tuple(lines),
    )


def _txn(t: SimBalanceTransaction) -> TxnRecord:
    return TxnRecord(
        id=t.id,
        reporting_category=t.reporting_category,
        source_id=t.source_id,
        payment_id=t.payment_id,
        gross=t.amount,
        fee=t.fee,
        net=t.net,
        currency=t.currency,
        created=t.created_at,
        available_on=t.available_on,
        description=t.description,
    )
