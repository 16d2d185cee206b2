"""What is not kept forever: a delivered notification's body (it names the payer) is
emptied after the retention period (``REGIE_NOTIFICATION_RETENTION_DAYS``); the row, its
attempts and its event id stay, so the history and the de-duplication by source hold.
A rotated-out secret is erased once its overlap is over."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlmodel import col

from regie.kit.database import Database, utcnow
from webhooks.outbound.models import WebhookDelivery, WebhookEndpoint


async def prune_payloads(
    db: Database, retention: dt.timedelta, *, now: dt.datetime | None = None
) -> int:
    """Empty the bodies of notifications delivered more than ``retention`` ago."""
    at = now or utcnow()
    async with db.session() as s:
        result = await s.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.status) == "delivered",
                col(WebhookDelivery.delivered_at) < at - retention,
                col(WebhookDelivery.payload_pruned_at).is_(None),
            )
            .values(payload="", payload_pruned_at=at)
        )
        await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def drop_expired_secrets(db: Database, *, now: dt.datetime | None = None) -> int:
    """Erase the former secrets of rotations whose overlap is over (they sign no more)."""
    at = now or utcnow()
    async with db.session() as s:
        result = await s.execute(
            update(WebhookEndpoint)
            .where(
                col(WebhookEndpoint.previous_secret_sealed).is_not(None),
                col(WebhookEndpoint.previous_secret_expires_at) <= at,
            )
            .values(previous_secret_sealed=None, previous_secret_expires_at=None)
        )
        await s.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
