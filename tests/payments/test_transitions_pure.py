"""``payments.transitions`` without a database: a unit of work that only records.

``transition`` and ``record_new`` touch the unit of work in two ways, ``session.add`` (the
``state_changes`` row) and ``publish`` (the domain event); a stand-in records both, so
every row field, timestamp and note rule is checked here in milliseconds. The same
function on a real database is tested in test_transitions.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from payments.models import Invoice, Payment, Refund, StateChange
from payments.states import (
    LATER_WORD_WINS_NOTE,
    InvalidTransition,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
    TransitionKind,
)
from payments.transitions import record_new, transition
from regie.kit.database import utcnow

CREATED = dt.datetime(2026, 2, 1, 9, 0, tzinfo=dt.UTC)
AT = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
LATER = AT + dt.timedelta(days=3)
IS, PS, RS = InvoiceStatus, PaymentStatus, RefundStatus
LATER_WORD, CLOSED = TransitionKind.later_word_wins, TransitionKind.dispute_closed


class Recorder:
    """The parts of a UnitOfWork that ``transition`` uses: ``session.add`` and ``publish``."""

    def __init__(self) -> None:
        self.rows: list[StateChange] = []
        self.published: list[object] = []
        self.session = self

    def add(self, row: StateChange) -> None:
        self.rows.append(row)

    def publish(self, event: object) -> None:
        self.published.append(event)

    def trail(self) -> list[tuple[Any, ...]]:
        return [
            (r.service_id, r.invoice_id, r.payment_id, r.object, r.from_status, r.to_status)
            + (r.cause, r.note)
            for r in self.rows
        ]


def invoice(status: str = "open", **changes: Any) -> Invoice:
    values: dict[str, Any] = dict(
        id="inv_1",
        service_id="svc_1",
        number="F-2026-000042",
        reference="PC-7",
        description="permis",
        currency="EUR",
        amount_total=12_500,
        status=status,
        payer_name="Zoé",
        pay_token="tok",
        expires_at=LATER,
        created_at=CREATED,
        updated_at=CREATED,
    )
    return Invoice(**(values | changes))


def payment(status: str = "pending", **changes: Any) -> Payment:
    values: dict[str, Any] = dict(
        id="pay_1",
        invoice_id="inv_1",
        service_id="svc_1",
        provider="stripe",
        status=status,
        amount=12_500,
        currency="EUR",
        created_at=CREATED,
        updated_at=CREATED,
    )
    return Payment(**(values | changes))


def refund(status: str = "pending", **changes: Any) -> Refund:
    values: dict[str, Any] = dict(
        id="ref_1",
        invoice_id="inv_1",
        payment_id="pay_1",
        service_id="svc_1",
        provider="stripe",
        amount=2_500,
        currency="EUR",
        status=status,
        origin="api",
        created_at=CREATED,
        updated_at=CREATED,
    )
    return Refund(**(values | changes))


def go(subject: Any, target: Any, **kwargs: Any) -> Recorder:
    uow = Recorder()
    transition(uow, subject, target, **kwargs)  # type: ignore[arg-type]
    return uow


# ------------------------------------------------------------------ invoices
def test_paying_an_open_invoice_writes_its_row_stamps_it_and_publishes() -> None:
    inv, event = invoice(), object()
    before = utcnow()
    uow = go(inv, IS.paid, cause="psp:evt_1", event=event, at=AT)
    assert uow.trail() == [("svc_1", "inv_1", None, "invoice", "open", "paid", "psp:evt_1", None)]
    assert before <= uow.rows[0].created_at <= utcnow()
    assert (inv.status, inv.updated_at, inv.paid_at) == ("paid", AT, AT)
    assert (inv.canceled_at, inv.expired_at) == (None, None)
    assert uow.published == [event]


def test_without_at_a_transition_is_dated_now_and_without_event_publishes_nothing() -> None:
    inv = invoice()
    before = utcnow()
    uow = go(inv, IS.paid, cause="api:x")
    assert inv.updated_at is not None and before <= inv.updated_at <= utcnow()
    assert inv.paid_at == inv.updated_at
    assert uow.published == []


@pytest.mark.parametrize(
    ("current", "kind"),
    [("disputed", CLOSED), ("refunded", LATER_WORD), ("partially_refunded", LATER_WORD)],
)
def test_an_invoice_back_to_paid_keeps_the_date_it_was_paid(current: str, kind: Any) -> None:
    inv = invoice(current, paid_at=CREATED)
    go(inv, IS.paid, cause="psp:evt_2", kind=kind, at=LATER)
    assert (inv.status, inv.updated_at, inv.paid_at) == ("paid", LATER, CREATED)


@pytest.mark.parametrize(
    ("target", "stamp"), [(IS.canceled, "canceled_at"), (IS.expired, "expired_at")]
)
def test_closing_an_open_invoice_stamps_when_and_nothing_else(target: Any, stamp: str) -> None:
    inv = invoice()
    go(inv, target, cause="api:x", at=AT)
    stamps = {"paid_at": inv.paid_at, "canceled_at": inv.canceled_at, "expired_at": inv.expired_at}
    assert stamps == {"paid_at": None, "canceled_at": None, "expired_at": None} | {stamp: AT}


@pytest.mark.parametrize("target", [IS.partially_refunded, IS.refunded, IS.disputed])
def test_other_invoice_steps_stamp_only_updated_at(target: Any) -> None:
    inv = invoice("paid", paid_at=CREATED)
    go(inv, target, cause="x", at=AT)
    assert (inv.updated_at, inv.paid_at, inv.canceled_at, inv.expired_at) == (
        AT,
        CREATED,
        None,
        None,
    )


def test_a_refused_step_changes_nothing_and_publishes_nothing() -> None:
    inv = invoice("canceled")
    uow = Recorder()
    with pytest.raises(InvalidTransition):
        transition(uow, inv, IS.paid, cause="x", event=object(), at=AT)  # type: ignore[arg-type]
    with pytest.raises(InvalidTransition):  # a step is taken only as its own kind
        transition(uow, invoice("refunded"), IS.paid, cause="x", at=AT)  # type: ignore[arg-type]
    assert (inv.status, inv.updated_at, inv.paid_at) == ("canceled", CREATED, None)
    assert uow.rows == [] and uow.published == []


# ------------------------------------------------------------------ notes
def test_the_later_word_wins_note_and_an_explicit_note() -> None:
    uow = go(invoice("refunded"), IS.paid, cause="psp:e", kind=LATER_WORD, at=AT)
    assert uow.rows[0].note == LATER_WORD_WINS_NOTE == "PSP's later word wins"
    uow = go(invoice("refunded"), IS.paid, cause="psp:e", kind=LATER_WORD, note="why", at=AT)
    assert uow.rows[0].note == "why"
    uow = go(invoice("paid"), IS.disputed, cause="psp:e", note="dp_1", at=AT)
    assert uow.rows[0].note == "dp_1"
    uow = go(invoice("disputed"), IS.paid, cause="psp:e", kind=CLOSED, at=AT)
    assert uow.rows[0].note is None


# ------------------------------------------------------------------ payments and refunds
@pytest.mark.parametrize(
    ("current", "target", "kind", "succeeded_at"),
    [
        ("pending", PS.succeeded, TransitionKind.ordinary, AT),
        ("failed", PS.succeeded, LATER_WORD, AT),
        ("pending", PS.failed, TransitionKind.ordinary, None),
        ("pending", PS.canceled, TransitionKind.ordinary, None),
        ("pending", PS.expired, TransitionKind.ordinary, None),
    ],
)
def test_a_payment_is_audited_on_its_invoice_and_stamped_when_it_succeeds(
    current: str, target: Any, kind: Any, succeeded_at: Any
) -> None:
    inv, p = invoice(), payment(current)
    uow = go(p, target, invoice=inv, cause="psp:evt", kind=kind, at=AT)
    note = LATER_WORD_WINS_NOTE if kind == LATER_WORD else None
    assert uow.trail() == [("svc_1", "inv_1", "pay_1", "payment", current, target, "psp:evt", note)]
    assert (p.status, p.updated_at, p.succeeded_at) == (target, AT, succeeded_at)
    assert (inv.status, inv.updated_at) == ("open", CREATED)


def test_a_refund_is_audited_on_its_invoice_with_its_id_as_note() -> None:
    inv, r = invoice("paid"), refund()
    uow = go(r, RS.succeeded, invoice=inv, cause="psp:evt", at=AT)
    assert uow.trail() == [
        ("svc_1", "inv_1", None, "refund", "pending", "succeeded", "psp:evt", "ref_1")
    ]
    assert (r.status, r.updated_at, r.succeeded_at) == ("succeeded", AT, AT)
    uow = go(r, RS.failed, invoice=inv, cause="psp:evt2", kind=LATER_WORD, at=LATER)
    assert uow.rows[0].note == LATER_WORD_WINS_NOTE  # the later word is said, not the id
    assert (r.status, r.updated_at, r.succeeded_at) == ("failed", LATER, AT)
    r2 = refund()
    uow = go(r2, RS.failed, invoice=inv, cause="psp:evt3", note="card closed", at=AT)
    assert uow.rows[0].note == "card closed"
    assert r2.succeeded_at is None


@pytest.mark.parametrize("make", [payment, refund])
def test_a_payment_or_refund_needs_its_own_invoice(make: Any) -> None:
    subject = make()
    for wrong in (None, invoice(id="inv_2")):
        with pytest.raises(ValueError) as refused:
            transition(Recorder(), subject, "succeeded", invoice=wrong, cause="x")  # type: ignore[call-overload]
        assert str(refused.value) == f"{subject.id} needs its own invoice for its audit trail"
        assert subject.status == "pending"


# ------------------------------------------------------------------ record_new
def test_record_new_writes_the_first_row_of_each_object_in_its_initial_status() -> None:
    inv, event = invoice(), object()
    uow = Recorder()
    record_new(uow, inv, cause="api:create", event=event)  # type: ignore[arg-type]
    record_new(uow, payment(), invoice=inv, cause="citizen:checkout")  # type: ignore[arg-type]
    record_new(uow, refund(), invoice=inv, cause="api:refund")  # type: ignore[arg-type]
    record_new(uow, refund(id="ref_2"), invoice=inv, cause="psp:e", note="made at the PSP")  # type: ignore[arg-type]
    assert uow.trail() == [
        ("svc_1", "inv_1", None, "invoice", None, "open", "api:create", None),
        ("svc_1", "inv_1", "pay_1", "payment", None, "pending", "citizen:checkout", None),
        ("svc_1", "inv_1", None, "refund", None, "pending", "api:refund", "ref_1"),
        ("svc_1", "inv_1", None, "refund", None, "pending", "psp:e", "made at the PSP"),
    ]
    assert uow.published == [event]
    assert inv.status == "open"


@pytest.mark.parametrize(
    ("obj", "subject"),
    [("invoice", invoice("paid")), ("payment", payment("succeeded")), ("refund", refund("failed"))],
)
def test_record_new_refuses_an_object_not_in_its_initial_status(obj: str, subject: Any) -> None:
    uow = Recorder()
    with pytest.raises(InvalidTransition) as refused:
        record_new(uow, subject, invoice=invoice(), cause="x", event=object())  # type: ignore[arg-type]
    assert (refused.value.kind, refused.value.current, refused.value.target) == (
        obj,
        None,
        subject.status,
    )
    assert uow.rows == [] and uow.published == []


def test_record_new_of_a_payment_needs_its_own_invoice() -> None:
    with pytest.raises(ValueError):
        record_new(Recorder(), payment(), invoice=invoice(id="inv_2"), cause="x")  # type: ignore[arg-type]
