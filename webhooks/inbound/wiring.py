"""What ``webhooks.inbound`` registers with the shell: the inbox drain, the PSP catch-up
job and the inbox gauges (see ``regie.kit.wiring``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from regie.kit.wiring import Gauge, Job, Sample, Wiring, by_status
from webhooks.inbound.apply import EventApplier
from webhooks.inbound.intake import EventIntake
from webhooks.inbound.models import InboxEvent


def wire(intake: EventIntake, applier: EventApplier) -> Wiring:
    return Wiring(
        drains=[applier.process_batch],
        jobs=[Job("catch-up-psp-events", dt.timedelta(minutes=10), intake.catch_up)],
        gauges=[
            Gauge("regie_webhook_inbox", inbox_by_status),
            Gauge("regie_webhook_lag_seconds", lag_seconds),
        ],
    )


#: An inbox row's statuses (``InboxEvent.status``), each a sample of the gauge even at 0.
INBOX_STATUSES = ("pending", "done", "ignored", "dead")


async def inbox_by_status(conn: AsyncConnection) -> list[Sample]:
    status = col(InboxEvent.status)
    rows = await conn.execute(select(status, func.count()).group_by(status))
    return by_status(rows.all(), INBOX_STATUSES)


async def lag_seconds(conn: AsyncConnection) -> list[Sample]:
    """How long the oldest pending event has waited (0 when none waits)."""
    oldest = (
        await conn.execute(
            select(func.min(col(InboxEvent.received_at))).where(col(InboxEvent.status) == "pending")
        )
    ).scalar()
    lag = 0.0
    if oldest is not None:
        lag = max((dt.datetime.now(dt.UTC) - oldest).total_seconds(), 0.0)
    return [Sample({}, lag)]
