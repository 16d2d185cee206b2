"""What ``payments`` registers with the shell: the sweeps (expiry, refunds to submit,
pending payments to re-check), each PSP's own periodic job if it has one, the drain that
closes the other checkouts of invoices just paid (every tick, so a second tab's page is
closed within a tick of the payment), and the payments gauge (see ``regie.kit.wiring``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from payments.models import Payment
from payments.service import PaymentsService
from payments.states import PaymentStatus
from regie.kit.wiring import Gauge, Job, Sample, Wiring, by_status


def wire(payments: PaymentsService) -> Wiring:
    jobs = [
        Job("expire-invoices", dt.timedelta(seconds=30), payments.expire_due),
        Job("submit-refunds", dt.timedelta(seconds=5), payments.refunds.retry_due),
        Job("recheck-pending-payments", dt.timedelta(seconds=60), payments.recheck_pending),
    ]
    for provider in payments.providers:
        redeliver = getattr(provider, "redeliver_pending", None)
        if redeliver is not None:
            jobs.append(Job(f"{provider.name}-redeliver", dt.timedelta(seconds=30), redeliver))
        own_jobs = getattr(provider, "jobs", None)  # the simulator's daily payout
        if own_jobs is not None:
            jobs.extend(own_jobs())
    return Wiring(
        jobs=jobs,
        drains=[payments.close_checkouts_due],
        gauges=[Gauge("regie_payments", payments_by_status)],
    )


async def payments_by_status(conn: AsyncConnection) -> list[Sample]:
    status = col(Payment.status)
    rows = await conn.execute(select(status, func.count()).group_by(status))
    return by_status(rows.all(), [s.value for s in PaymentStatus])
