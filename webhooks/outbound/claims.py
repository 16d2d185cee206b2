"""Which due notifications a claim takes: the query ``OutboxPump`` locks and leases.

Receivers are kept from holding each other up. A dead or slow receiver costs up to 36 s an
attempt (a 5 s name lookup, then two tries of 15 s), and its backlog is oldest; claimed
oldest first, it would fill every claim, and the other client services' notifications
would wait behind it. So a claim takes:

- at most ``per_endpoint`` rows of one endpoint (``PER_ENDPOINT``: half the pump's claim of
  10, so a receiver alone still gets five requests at once, a dead one never more than half
  a claim);
- every endpoint's first row owed before any endpoint's second, and so on in turns (two dead
  receivers with backlogs leave room for a third's notification, where a cap alone would
  give them the whole claim); within a turn, the row due first goes first;
- each endpoint's rows in the order owed: lane first (``rules.LANES``: a single event's
  notification before a batch's ``invoice.created``, so that a citizen's payment never
  waits behind a batch of ten thousand invoices), then due first, then written (``seq``).

A row waits while an earlier one about its invoice and endpoint is pending (``_waits``:
order per invoice); the writer keeps such an earlier row in the lane of the later one
(``service``), so a payment never waits for its invoice's ``invoice.created`` left behind
in the batch lane.

On PostgreSQL each enabled endpoint's first rows are read by a ``LATERAL`` subquery from the
partial index ``ix_webhook_deliveries_endpoint_due`` (its pending rows by lane, then due
time): one range of the index a lane, each stopped after ``per_endpoint`` rows, of which
the first ``per_endpoint`` by lane are kept. So a claim costs the same with an endpoint's
backlog of fifty thousand as with none, in either lane, and rows of lane 0 scheduled for
later (a dead receiver's retries) are not read through to reach lane 1. (A window function
over every due row, ``row_number() OVER (PARTITION BY endpoint_id …)``, read the whole
backlog at each claim, 15 ms for 5,000 due rows, so that draining a backlog cost its
square.) A window function is not allowed in a ``SELECT … FOR UPDATE``: the turns are
numbered in the subquery and only the outer select locks (``FOR UPDATE OF
webhook_deliveries SKIP LOCKED``). The outer select repeats the conditions of a row's own
columns (pending, due, not leased): a row another worker claimed and committed after this
statement's snapshot is re-read when it is locked and these conditions are checked again
on the row as it now is, so it is not claimed twice (the subquery is not re-read). A row
another claim holds locked is skipped, not replaced: that claim takes a little less of the
endpoint.

SQLite (one writer, no ``LATERAL``, no row locks) numbers the turns with the window
function over its due rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import FromClause, Select, and_, exists, func, or_, select, true, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import LateralFromClause, Subquery, TableClause

from webhooks.outbound.models import PENDING, WebhookDelivery, WebhookEndpoint
from webhooks.outbound.rules import LANES

#: At most this many rows of one endpoint in one claim (see the module's docstring).
PER_ENDPOINT = 5

_deliveries: TableClause = WebhookDelivery.__table__  # type: ignore[attr-defined]
_endpoints: TableClause = WebhookEndpoint.__table__  # type: ignore[attr-defined]


def _open(t: FromClause, now: dt.datetime) -> ColumnElement[bool]:
    """A row's own conditions to be taken: pending, due and not leased to a live claim."""
    return and_(
        t.c.status == PENDING,  # a literal: the index's predicate, even in a generic plan
        t.c.next_attempt_at <= now,
        or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
    )


def _waits(t: FromClause) -> ColumnElement[bool]:
    """The row waits while an earlier one about its invoice is pending (order per invoice)."""
    earlier = _deliveries.alias("earlier")
    return exists().where(
        earlier.c.endpoint_id == t.c.endpoint_id,
        earlier.c.invoice_id == t.c.invoice_id,
        earlier.c.status == PENDING,
        earlier.c.seq < t.c.seq,
    )


def _first_owed(e: TableClause, now: dt.datetime, per_endpoint: int) -> LateralFromClause:
    """The endpoint ``e``'s first ``per_endpoint`` rows owed, numbered (``turn``): of each
    lane its first ``per_endpoint`` by due time (one range of the index each), then the
    first ``per_endpoint`` of those, lane first."""
    of_lanes = []
    for lane in LANES:
        due = _deliveries.alias(f"due_{lane}")
        of_lanes.append(
            select(due.c.seq, due.c.lane, due.c.next_attempt_at)
            .where(due.c.endpoint_id == e.c.id, due.c.lane == lane, _open(due, now), ~_waits(due))
            .order_by(due.c.next_attempt_at, due.c.seq)
            .limit(per_endpoint)
            .correlate(e)  # the endpoint of the LATERAL's row
        )
    owed = union_all(*of_lanes).subquery("owed")
    order = (owed.c.lane, owed.c.next_attempt_at, owed.c.seq)
    turn = func.row_number().over(order_by=order)
    return (
        select(owed.c.seq, turn.label("turn")).order_by(*order).limit(per_endpoint).lateral("first")
    )


def _turns_postgres(now: dt.datetime, per_endpoint: int) -> Subquery:
    e = _endpoints
    first = _first_owed(e, now, per_endpoint)
    # a disabled endpoint's notifications wait
    return (
        select(first.c.seq, first.c.turn)
        .select_from(e)
        .join(first, true())
        .where(e.c.status == "enabled")
        .subquery("ranked")
    )


def _turns_sqlite(now: dt.datetime) -> Subquery:
    due = _deliveries.alias("due")
    enabled = exists().where(_endpoints.c.id == due.c.endpoint_id, _endpoints.c.status == "enabled")
    turn = func.row_number().over(
        partition_by=due.c.endpoint_id, order_by=(due.c.lane, due.c.next_attempt_at, due.c.seq)
    )
    return (
        select(due.c.seq, turn.label("turn"))
        .where(_open(due, now), enabled, ~_waits(due))
        .subquery("ranked")
    )


def due_rows(
    now: dt.datetime, n: int, *, per_endpoint: int = PER_ENDPOINT, postgres: bool
) -> Select[tuple[str]]:
    """The ids of up to ``n`` rows a claim at ``now`` takes; on PostgreSQL, locked ``FOR
    UPDATE SKIP LOCKED``."""
    ranked = _turns_postgres(now, per_endpoint) if postgres else _turns_sqlite(now)
    d = _deliveries
    stmt = (
        select(d.c.id)
        .join(ranked, ranked.c.seq == d.c.seq)
        .where(ranked.c.turn <= per_endpoint, _open(d, now))
        .order_by(ranked.c.turn, d.c.next_attempt_at, d.c.seq)
        .limit(n)
    )
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True, of=d)
    return stmt
