"""What ``webhooks.outbound`` registers with the shell: the outbox writer's subscriptions,
the delivery job and the outbox gauge (see ``regie.kit.wiring``)."""

from __future__ import annotations

import datetime as dt
from typing import get_args

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from payments.events import InvoicesIssued
from regie.kit.wiring import Gauge, Job, Sample, Subscription, Wiring, by_status
from webhooks.outbound.delivery import OutboxPump
from webhooks.outbound.models import WebhookDelivery
from webhooks.outbound.rules import NOTIFIED_EVENTS
from webhooks.outbound.schemas import DeliveryStatus
from webhooks.outbound.service import NotificationsService


def wire(notifications: NotificationsService, outbox: OutboxPump) -> Wiring:
    return Wiring(
        subscriptions=[
            *(Subscription(ev, notifications.on_invoice_event) for ev in NOTIFIED_EVENTS),
            Subscription(InvoicesIssued, notifications.on_invoices_issued),
        ],
        jobs=[Job("deliver-notifications", dt.timedelta(seconds=2), outbox.pump)],
        gauges=[Gauge("regie_outbox_deliveries", deliveries_by_status)],
    )


async def deliveries_by_status(conn: AsyncConnection) -> list[Sample]:
    status = col(WebhookDelivery.status)
    rows = await conn.execute(select(status, func.count()).group_by(status))
    return by_status(rows.all(), get_args(DeliveryStatus))
