"""What the fault drill compares (``bench.drill``): the state of a database after the
events, and the serial replay that gives the state to expect.

The replay runs in the drill's process, on a copy of the database taken before any event
was sent: each unique event, oldest first, is written into the inbox (by the replay itself,
not by regie's intake, whose faults it must not share) and applied alone by the inbox's
own apply path (``EventApplier.process_batch``: the PSP's truth, then the event in its
transaction), one after the other; then the worker's drains run until they find nothing
(checkouts to close, receipts to render). No notification is sent from the copy: its
outbox rows are what the drill's should be.

What the replay shares with the drill is what applying one event does: a mistake there is
in both, and the unit tests' business. What the comparison finds is what concurrency,
duplicates, a killed worker and a database fault changed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from bench.drill_setup import setup_settings
from bench.http_invoices import _plain
from payments.providers.base import ProviderEvent
from payments.providers.simulator.events import event_from_payload
from regie.composition import build_services
from regie.kit.database import Database, utcnow
from regie.kit.ids import new_id
from webhooks.inbound.models import InboxEvent


@dataclass
class State:
    # invoice id -> (status, total, paid, refunded, its payments' statuses, receipts)
    invoices: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    # (account, currency) -> debit - credit
    balances: dict[tuple[str, str], int] = field(default_factory=dict)
    entries: Counter[str] = field(default_factory=Counter)  # ledger entries by kind
    # (notification type, invoice id) -> how many notifications (event ids) the outbox holds
    facts: Counter[tuple[str, str]] = field(default_factory=Counter)
    outbox: dict[str, str] = field(default_factory=dict)  # notification event id -> status
    inbox: dict[str, list[str]] = field(default_factory=dict)  # PSP event id -> row statuses
    inbox_outcomes: Counter[str] = field(default_factory=Counter)


async def snapshot(url: str) -> State:
    conn = await asyncpg.connect(_plain(url))
    try:
        st = State()
        for r in await conn.fetch(
            "SELECT i.id, i.status, i.amount_total, i.amount_paid, i.amount_refunded,"
            " (SELECT coalesce(string_agg(p.status, ',' ORDER BY p.status), '')"
            "    FROM payments p WHERE p.invoice_id = i.id) AS payments,"
            " (SELECT count(*) FROM receipts r WHERE r.invoice_id = i.id) AS receipts"
            " FROM invoices i"
        ):
            st.invoices[r["id"]] = (
                r["status"], r["amount_total"], r["amount_paid"], r["amount_refunded"],
                r["payments"], r["receipts"],
            )  # fmt: skip
        for r in await conn.fetch(
            "SELECT account, currency, sum(debit) - sum(credit) AS balance"
            " FROM ledger_lines GROUP BY account, currency"
        ):
            st.balances[(r["account"], r["currency"])] = int(r["balance"])
        for r in await conn.fetch("SELECT kind, count(*) AS n FROM ledger_entries GROUP BY kind"):
            st.entries[r["kind"]] = r["n"]
        for r in await conn.fetch(
            "SELECT event_type, invoice_id, count(DISTINCT event_id) AS n"
            " FROM webhook_deliveries GROUP BY event_type, invoice_id"
        ):
            st.facts[(r["event_type"], r["invoice_id"])] = r["n"]
        for r in await conn.fetch("SELECT DISTINCT event_id, status FROM webhook_deliveries"):
            st.outbox[r["event_id"]] = r["status"]
        for r in await conn.fetch("SELECT event_id, status, outcome FROM webhook_inbox"):
            st.inbox.setdefault(r["event_id"], []).append(r["status"])
            st.inbox_outcomes[r["status"]] += 1
        return st
    finally:
        await conn.close()


async def replay(url: str, events: list[dict[str, Any]], simulator_secret: str) -> int:
    """Every event, one after the other, into the inbox and applied; returns how many events
    the inbox holds still pending afterwards (0 when the replay applied everything)."""
    services = build_services(setup_settings(url, simulator_secret))
    try:
        for payload in events:
            await _into_inbox(services.db, event_from_payload(payload))
            while await services.applier.process_batch(1):
                pass
        drains = [drain for wiring in services.wirings() for drain in wiring.drains]
        while sum([await drain(50) for drain in drains]):
            pass
    finally:
        await services.close()
    conn = await asyncpg.connect(_plain(url))
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM webhook_inbox WHERE status = 'pending'")
        )
    finally:
        await conn.close()


async def _into_inbox(db: Database, event: ProviderEvent) -> None:
    """The event's inbox row, written here rather than by regie's intake: the replay's
    expectation must not share the intake's faults (an event lost or stored twice)."""
    now = utcnow()
    async with db.session() as s:
        s.add(
            InboxEvent(
                id=new_id("evt"), provider=event.provider, event_id=event.id,
                event_type=event.type, raw_type=event.raw_type,
                payment_ref=event.payment_ref, checkout_id=event.checkout_id,
                provider_payment_id=event.provider_payment_id,
                event_created_at=event.created, data=dict(event.data), status="pending",
                attempts=0, next_attempt_at=now, received_at=now,
            )
        )  # fmt: skip
        await s.commit()


def differences(name: str, got: dict[Any, Any], want: dict[Any, Any], limit: int = 5) -> list[str]:
    """Up to ``limit`` lines naming what differs between two mappings."""
    out = []
    for key in sorted(set(got) | set(want), key=str):
        if got.get(key) != want.get(key):
            out.append(f"{name} {key}: drill {got.get(key)!r}, replay {want.get(key)!r}")
    return out[:limit] + ([f"… {len(out) - limit} more"] if len(out) > limit else [])
