"""Housekeeping that keeps no personal data and no replayable answer longer than needed:
``regie maintenance prune`` runs it, and the worker daily (``wire``).

- idempotency rows past ``REGIE_IDEMPOTENCY_TTL_HOURS`` (they replay no more);
- the bodies of notifications delivered, or given up, more than
  ``REGIE_NOTIFICATION_RETENTION_DAYS`` ago (they name the payer);
- the former secrets of webhook endpoints whose rotation overlap is over;
- the finance workspace's signed-out sessions past their absolute end;
- and, every few minutes, the rate-limit windows that are over (PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from regie.finance.repository import prune_signed_out
from regie.kit import idempotency
from regie.kit.database import Database, utcnow
from regie.kit.ratecounters import prune_counters
from regie.kit.settings import Settings
from regie.kit.wiring import Job, Wiring
from webhooks.outbound.retention import drop_expired_secrets, prune_payloads

log = logging.getLogger("regie.maintenance")

PRUNE_EVERY = dt.timedelta(days=1)
PRUNE_COUNTERS_EVERY = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class PruneResult:
    idempotency_rows: int
    payloads: int
    expired_secrets: int = 0
    signed_out_sessions: int = 0


async def prune(db: Database, settings: Settings, *, now: dt.datetime | None = None) -> PruneResult:
    at = now or utcnow()
    result = PruneResult(
        idempotency_rows=await idempotency.prune_expired(
            db, dt.timedelta(hours=settings.idempotency_ttl_hours), now=at
        ),
        payloads=await prune_payloads(
            db, dt.timedelta(days=settings.notification_retention_days), now=at
        ),
        expired_secrets=await drop_expired_secrets(db, now=at),
        signed_out_sessions=await _prune_signed_out(db, at),
    )
    log.info(
        "pruned",
        extra={
            "idempotency_rows": result.idempotency_rows,
            "payloads": result.payloads,
            "expired_secrets": result.expired_secrets,
            "signed_out_sessions": result.signed_out_sessions,
        },
    )
    return result


async def _prune_signed_out(db: Database, now: dt.datetime) -> int:
    async with db.session() as s:
        pruned = await prune_signed_out(s, now)
        await s.commit()
    return pruned


def wire(db: Database, settings: Settings) -> Wiring:
    async def run() -> PruneResult:
        return await prune(db, settings)

    async def counters() -> int:
        return await prune_counters(db)

    return Wiring(
        jobs=[
            Job("maintenance-prune", PRUNE_EVERY, run),
            Job("prune-rate-limits", PRUNE_COUNTERS_EVERY, counters),
        ]
    )
