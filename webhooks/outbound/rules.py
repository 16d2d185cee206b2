"""Pure rules of the notifications: which domain events are notified and as what, the
lanes, the retry schedule, the uniqueness key of a notification and its body."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from payments.events import (
    DisputeClosed,
    InvoiceCanceled,
    InvoiceDisputed,
    InvoiceEvent,
    InvoiceExpired,
    InvoicePaid,
    PaymentFailed,
    RefundFailed,
    RefundReversed,
    RefundSucceeded,
)

#: Domain event -> notification type. Only these are sent to client services.
EVENT_TYPES: dict[type[InvoiceEvent], str] = {
    InvoicePaid: "invoice.paid",
    PaymentFailed: "invoice.payment_failed",
    InvoiceCanceled: "invoice.canceled",
    InvoiceExpired: "invoice.expired",
    RefundSucceeded: "invoice.refunded",
    # the citizen was not refunded: a refund that failed after it succeeded (the bank sent
    # the money back), or one that failed when the PSP was asked (after a 202, or swept)
    RefundReversed: "invoice.refund_failed",
    RefundFailed: "invoice.refund_failed",
    InvoiceDisputed: "invoice.disputed",
    # its own type: as ``invoice.disputed`` its key (the dispute's id) would be the
    # opening's, and the close dropped as a repeat
    DisputeClosed: "invoice.dispute_closed",
}
#: Invoices created in a batch (``InvoicesIssued``: POST /v1/invoice-batches, regie invoices
#: import) are announced one by one, since an import's caller is not the client's system
#: (an invoice created alone is answered to its caller and not notified).
INVOICE_CREATED = "invoice.created"

#: An endpoint's lanes, taken in this order by a claim (``claims``): the notifications of a
#: single event (a citizen paid, a refund, …) go before a batch's ``invoice.created``, so
#: that a batch of ten thousand invoices never holds a payment's notification behind it.
#: A row keeps its lane through retries and resends, except that a row about an invoice
#: is moved to ``LANE_SINGLE`` when a later one about it is written there while it is
#: still pending (order per invoice: ``service``).
LANE_SINGLE = 0
LANE_BATCH = 1
LANES: tuple[int, ...] = (LANE_SINGLE, LANE_BATCH)

#: The domain event classes the outbox subscribes to.
NOTIFIED_EVENTS: tuple[type[InvoiceEvent], ...] = tuple(EVENT_TYPES)

#: Delays before the 2nd, 3rd, … 8th attempt; after the 8th failure the row is given up.
RETRY_SCHEDULE: tuple[dt.timedelta, ...] = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
    dt.timedelta(hours=24),
    dt.timedelta(hours=48),
)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1


def retry_delay(failures: int) -> dt.timedelta | None:
    """Delay before the next attempt after ``failures`` consecutive failed attempts
    (``failures >= 1``); ``None`` means give up."""
    if failures < 1:
        raise ValueError("failures starts at 1")
    if failures > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[failures - 1]


def source_key(ev: InvoiceEvent, event_type: str) -> str:
    """What makes a notification unique: the same fact never gives two rows per endpoint,
    however often the PSP repeats itself."""
    if isinstance(ev, RefundSucceeded | RefundReversed | RefundFailed):
        ident = ev.refund_id
    elif isinstance(ev, InvoiceDisputed | DisputeClosed):
        ident = ev.dispute_id
    elif isinstance(ev, InvoicePaid | PaymentFailed):
        ident = ev.payment_id
    else:
        ident = ev.invoice_id
    return f"{event_type}:{ident}"


def completed_at_commit(ev: InvoiceEvent) -> bool:
    """Whether the invoice's view changes again after the subscribers ran: a refund's
    credit note (an overpayment's refund has none) is numbered at commit, in a
    ``uow.last`` step of ``receipts`` (the gap-free counter's lock is held the least
    time), so the notification's body is built again after it."""
    return isinstance(ev, RefundSucceeded) and not ev.is_overpayment


def event_details(ev: InvoiceEvent) -> dict[str, Any]:
    """What a notification tells besides the invoice (``data``'s other keys): for a
    dispute, which one (the opening and the close name the same id), its amount and, once
    closed, its outcome (``won``: the funds came back; ``lost``: they stay with the
    payer). The invoice's view does not list its disputes."""
    if isinstance(ev, InvoiceDisputed | DisputeClosed):
        dispute: dict[str, Any] = {
            "id": ev.dispute_id,
            "amount": ev.amount,
            "currency": ev.currency,
        }
        if isinstance(ev, DisputeClosed):
            dispute["outcome"] = "won" if ev.won else "lost"
        return {"dispute": dispute}
    return {}


def build_payload(
    event_id: str,
    event_type: str,
    created: dt.datetime,
    invoice: dict[str, Any],
    **details: Any,
) -> str:
    """The notification body, serialised once (compact JSON, UTF-8): ``data.object`` is
    the invoice as it stands, ``details`` (``event_details``) go next to it in ``data``."""
    doc = {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(created.timestamp()),
        "data": {"object": invoice, **details},
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
