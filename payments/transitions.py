"""The one way a status changes (see docs/architecture.md).

Every status change of an invoice, a payment or a refund goes through ``transition``: it
checks the step against the tables of ``payments.states`` (raising ``InvalidTransition``
before touching anything), writes the ``state_changes`` row with its cause and note, sets
``updated_at`` and the timestamp of the state reached (``paid_at`` when an open or expired
invoice is paid, ``canceled_at``, ``expired_at``, ``succeeded_at``), and publishes the
domain event it is given.
``record_new`` writes the first row of an object created in its initial status
(``record_new_invoices``: of a batch of invoices, in one bulk insert).

The caller holds the invoice's lock and decides *whether* to move (it returns "ignored: …"
or "unchanged: …" itself); what else changes with the status (amounts, failure codes,
ledger entries) stays with the caller. tests/payments/test_transitions.py fails if a status
is assigned, or a ``StateChange`` written, anywhere else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, overload

from sqlalchemy import Executable, insert

from payments.models import Invoice, Payment, Refund, StateChange
from payments.states import (
    INITIAL,
    LATER_WORD_WINS_NOTE,
    PAID_AFTER_EXPIRY_NOTE,
    InvalidTransition,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
    TransitionKind,
    require_step,
)
from regie.kit.bulk import bulk_insert
from regie.kit.database import row_of, utcnow
from regie.kit.events import DomainEvent
from regie.kit.uow import UnitOfWork

Subject = Invoice | Payment | Refund
Status = InvoiceStatus | PaymentStatus | RefundStatus


@overload
def transition(
    uow: UnitOfWork,
    subject: Invoice,
    target: InvoiceStatus,
    *,
    cause: str,
    kind: TransitionKind = TransitionKind.ordinary,
    note: str | None = None,
    event: DomainEvent | None = None,
    at: dt.datetime | None = None,
) -> None: ...


@overload
def transition(
    uow: UnitOfWork,
    subject: Payment,
    target: PaymentStatus,
    *,
    invoice: Invoice,
    cause: str,
    kind: TransitionKind = TransitionKind.ordinary,
    note: str | None = None,
    event: DomainEvent | None = None,
    at: dt.datetime | None = None,
) -> None: ...


@overload
def transition(
    uow: UnitOfWork,
    subject: Refund,
    target: RefundStatus,
    *,
    invoice: Invoice,
    cause: str,
    kind: TransitionKind = TransitionKind.ordinary,
    note: str | None = None,
    event: DomainEvent | None = None,
    at: dt.datetime | None = None,
) -> None: ...


def transition(
    uow: UnitOfWork,
    subject: Subject,
    target: Status,
    *,
    invoice: Invoice | None = None,
    cause: str,
    kind: TransitionKind = TransitionKind.ordinary,
    note: str | None = None,
    event: DomainEvent | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Move ``subject`` to ``target``: a step of ``kind`` in its table, or InvalidTransition.

    ``invoice`` is the invoice a payment or refund belongs to (its row carries the audit
    trail). A named step must be asked for as such (``kind``); a later-word-wins row's
    note is ``LATER_WORD_WINS_NOTE``, a paid-after-expiry row's ``PAID_AFTER_EXPIRY_NOTE``. A refund's row notes the refund's id. ``at`` defaults to now.
    """
    obj, inv = _identify(subject, invoice)
    current = subject.status
    require_step(obj, current, target, kind)
    at = at or utcnow()
    if note is None and kind == TransitionKind.later_word_wins:
        note = LATER_WORD_WINS_NOTE
    if note is None and kind == TransitionKind.paid_after_expiry:
        note = PAID_AFTER_EXPIRY_NOTE
    if note is None and isinstance(subject, Refund):
        note = subject.id
    _audit(uow, obj, inv, subject, current, target, cause, note)
    subject.status = target
    subject.updated_at = at
    if isinstance(subject, Invoice):
        if target == InvoiceStatus.paid and current in (InvoiceStatus.open, InvoiceStatus.expired):
            subject.paid_at = at  # (a won dispute returns it to paid; it was paid before)
        elif target == InvoiceStatus.canceled:
            subject.canceled_at = at
        elif target == InvoiceStatus.expired:
            subject.expired_at = at
    elif target == PaymentStatus.succeeded:  # (== RefundStatus.succeeded)
        subject.succeeded_at = at
    if event is not None:
        uow.publish(event)


def record_new(
    uow: UnitOfWork,
    subject: Subject,
    *,
    invoice: Invoice | None = None,
    cause: str,
    note: str | None = None,
    event: DomainEvent | None = None,
) -> None:
    """The first ``state_changes`` row of an object just created in its initial status."""
    obj, inv = _identify(subject, invoice)
    if subject.status != INITIAL[obj]:
        raise InvalidTransition(obj, None, subject.status)
    if note is None and isinstance(subject, Refund):
        note = subject.id
    _audit(uow, obj, inv, subject, None, subject.status, cause, note)
    if event is not None:
        uow.publish(event)


async def record_new_invoices(
    uow: UnitOfWork,
    invoices: Sequence[Mapping[str, Any]],
    *,
    cause: str,
    event: DomainEvent | None = None,
) -> None:
    """``record_new`` for a batch of invoice rows just inserted (Core rows, not objects):
    their first ``state_changes`` rows in one bulk insert, and one event for the batch."""
    rows = _first_changes(invoices, cause)
    await bulk_insert(uow.session, StateChange.__table__, rows)  # type: ignore[attr-defined]
    if event is not None:
        uow.publish(event)


def record_new_invoice_write(
    uow: UnitOfWork, invoice: Mapping[str, Any], *, cause: str, event: DomainEvent
) -> Executable:
    """``record_new`` for one invoice row the caller inserts with its own writes
    (``regie.kit.bulk.write_together``): returns its first ``state_changes`` row's INSERT
    for the caller to send, and publishes ``event``."""
    (row,) = _first_changes([invoice], cause)
    uow.publish(event)
    return insert(StateChange.__table__).values(row)  # type: ignore[attr-defined]


def _first_changes(invoices: Sequence[Mapping[str, Any]], cause: str) -> list[dict[str, Any]]:
    template = row_of(
        StateChange(
            service_id="",
            invoice_id="",
            payment_id=None,
            object="invoice",
            from_status=None,
            to_status=INITIAL["invoice"],
            cause=cause,
            note=None,
            created_at=utcnow(),
        )
    )
    rows: list[dict[str, Any]] = []
    for inv in invoices:  # one row built, copied per invoice (no object per row)
        if inv["status"] != INITIAL["invoice"]:
            raise InvalidTransition("invoice", None, inv["status"])
        rows.append({**template, "service_id": inv["service_id"], "invoice_id": inv["id"]})
    return rows


def _identify(subject: Subject, invoice: Invoice | None) -> tuple[str, Invoice]:
    if isinstance(subject, Invoice):
        return "invoice", subject
    if invoice is None or subject.invoice_id != invoice.id:
        raise ValueError(f"{subject.id} needs its own invoice for its audit trail")
    return ("payment" if isinstance(subject, Payment) else "refund"), invoice


def _audit(
    uow: UnitOfWork,
    obj: str,
    inv: Invoice,
    subject: Subject,
    from_status: str | None,
    to_status: str,
    cause: str,
    note: str | None,
) -> None:
    uow.session.add(
        StateChange(
            service_id=inv.service_id,
            invoice_id=inv.id,
            payment_id=subject.id if isinstance(subject, Payment) else None,
            object=obj,
            from_status=from_status,
            to_status=to_status,
            cause=cause,
            note=note,
            created_at=utcnow(),
        )
    )
