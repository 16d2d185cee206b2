"""The simulator's events: built when a payment settles or a payout is made, signed with ``payments.signing``
(``Simulator-Signature``, as Stripe signs its own), POSTed to regie's
``/webhooks/simulator`` and, once received, verified and normalised by ``parse_event``.

An event that could not be delivered stays in ``sim_events``: it is re-sent by the
provider's ``redeliver_pending`` job and can be pulled with ``list_events`` (the
catch-up), as a PSP's API would allow.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import select
from sqlmodel import col

from payments import signing
from payments.providers.base import (
    EVENT_CHECKOUT_EXPIRED,
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_SUCCEEDED,
    MALFORMED,
    PAYOUT_EVENTS,
    MalformedEventError,
    ProviderEvent,
    SignatureError,
)
from payments.providers.simulator.models import SimEvent
from regie.kit.database import Database, utcnow
from regie.kit.ids import ulid

log = logging.getLogger("regie.simulator")

SIGNATURE_HEADER = "simulator-signature"
MAX_ATTEMPTS = 20
_KNOWN = frozenset(
    {EVENT_PAYMENT_SUCCEEDED, EVENT_PAYMENT_FAILED, EVENT_CHECKOUT_EXPIRED, *PAYOUT_EVENTS}
)


def new_event(event_type: str, now: dt.datetime, data: dict[str, Any]) -> SimEvent:
    """A ``sim_events`` row whose payload is the event as it will be sent."""
    event_id = f"evt_sim_{ulid()}"
    return SimEvent(
        id=event_id,
        type=event_type,
        created_at=now,
        payload={
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": int(now.timestamp()),
            "data": data,
        },
    )


def parse_event(raw_body: bytes, headers: Mapping[str, str], secret: str) -> ProviderEvent:
    """Verify ``Simulator-Signature`` and normalise."""
    try:
        signing.verify(headers.get(SIGNATURE_HEADER), raw_body, [secret])
    except signing.InvalidSignature as exc:
        raise SignatureError(str(exc)) from None
    try:
        doc = json.loads(raw_body)
        return event_from_payload(doc)
    except MALFORMED:
        raise MalformedEventError("signed body is not a simulator event") from None


def event_from_payload(doc: dict[str, Any]) -> ProviderEvent:
    raw_type = str(doc["type"])
    data = doc["data"]
    if not isinstance(data, dict):
        raise TypeError("the event's data is not an object")
    return ProviderEvent(
        id=str(doc["id"]),
        provider="simulator",
        type=raw_type if raw_type in _KNOWN else EVENT_IGNORED,
        raw_type=raw_type,
        created=dt.datetime.fromtimestamp(int(doc["created"]), dt.UTC),
        checkout_id=data.get("checkout_id"),
        provider_payment_id=data.get("payment_id"),
        payment_ref=data.get("payment_ref"),
        data=data,
    )


async def list_events(db: Database, since: dt.datetime) -> list[ProviderEvent]:
    """Every event created at or after ``since``, oldest first."""
    async with db.session() as s:
        stmt = (
            select(SimEvent)
            .where(col(SimEvent.created_at) >= since)
            .order_by(col(SimEvent.created_at), col(SimEvent.id))
        )  # type: ignore[arg-type, operator]
        rows = list((await s.execute(stmt)).scalars())
    return [event_from_payload(ev.payload) for ev in rows]


async def deliver(
    db: Database, client: httpx.AsyncClient | None, secret: str, event_id: str
) -> bool:
    """POST one event, signed, to regie's webhook endpoint; count the attempt."""
    async with db.session() as s:
        ev = await s.get(SimEvent, event_id)
        if ev is None or client is None:
            return False
        body = json.dumps(ev.payload, separators=(",", ":")).encode()
    ok = False
    try:
        resp = await client.post(
            "/webhooks/simulator",
            content=body,
            headers={
                "content-type": "application/json",
                "Simulator-Signature": signing.sign(secret, body),
            },
            timeout=10,
        )
        ok = 200 <= resp.status_code < 300
    except httpx.HTTPError as exc:
        log.warning(
            "simulator event delivery failed",
            extra={"event": event_id, "error_class": type(exc).__name__},
        )
    async with db.session() as s:
        row = await s.get(SimEvent, event_id, with_for_update=True)
        if row is not None:
            row.attempts += 1
            if ok:
                row.delivered_at = utcnow()
            await s.commit()
    return ok


async def undelivered(db: Database, limit: int) -> list[str]:
    """Ids of the events still to deliver (fewer than ``MAX_ATTEMPTS`` tries), oldest first."""
    async with db.session() as s:
        stmt = (
            select(col(SimEvent.id))
            .where(col(SimEvent.delivered_at).is_(None), col(SimEvent.attempts) < MAX_ATTEMPTS)
            .order_by(col(SimEvent.created_at))
            .limit(limit)
        )
        return list((await s.execute(stmt)).scalars())
