"""What is not kept forever: a notification's body (it names the payer, and its pay link
carries the invoice's token) is emptied after the retention period
(``REGIE_NOTIFICATION_RETENTION_DAYS``) once it will not be sent any more: delivered (from
its delivery) or given up (after its attempts, or its endpoint deleted: from its last
attempt, or its creation if it had none). The row, its attempts and its event id stay, so
the history and the de-duplication by source hold; a pruned row is never re-sent
(``resend`` answers 409 ``delivery_pruned``), so an empty body never goes out. A pending
row keeps its body, since it is still to be sent. A rotated-out secret is erased once its
overlap is over."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, update
from sqlmodel import col

from regie.kit.database import Database, utcnow
from webhooks.outbound.models import WebhookDelivery, WebhookEndpoint


async def prune_payloads(
    db: Database, retention: dt.timedelta, *, now: dt.datetime | None = None
) -> int:
    """Empty the bodies of notifications delivered, or given up, more than ``retention``
    ago. (A resend racing this is safe: it re-queues only a row not pruned, and this
    empties only a row still delivered or given up.)"""
    at = now or utcnow()
    before = at - retention
    last_touched = func.coalesce(
        col(WebhookDelivery.last_attempt_at), col(WebhookDelivery.created_at)
    )
    async with db.session() as s:
        result = await s.execute(
            update(WebhookDelivery)
            .where(
                or_(
                    and_(
                        col(WebhookDelivery.status) == "delivered",
                        col(WebhookDelivery.delivered_at) < before,
                    ),
                    and_(col(WebhookDelivery.status) == "failed", last_touched < before),
                ),
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
