"""The state tables applied (pure): every pair of statuses of every object, each kind.

The oracle is the tables themselves (``INVOICE_STEPS`` and the others): what is tested is
that the functions apply them, refuse everything else with an ``InvalidTransition`` that
names the object and the step, and never take a step as another kind than its own.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from itertools import product
from typing import Any

import pytest

from payments.states import (
    INVOICE_STEPS,
    PAYMENT_STEPS,
    REFUND_STEPS,
    STEPS,
    InvalidTransition,
    InvoiceStatus,
    PaymentStatus,
    RefundStatus,
    TransitionKind,
    can_invoice,
    can_payment,
    can_refund,
    invoice_transition,
    payment_transition,
    refund_transition,
    require_step,
)

STATUSES: dict[str, type[StrEnum]] = {
    "invoice": InvoiceStatus,
    "payment": PaymentStatus,
    "refund": RefundStatus,
}
TRANSITION_FUNCTIONS: dict[str, Callable[[Any, Any], Any]] = {
    "invoice": invoice_transition,
    "payment": payment_transition,
    "refund": refund_transition,
}
CAN: dict[str, Callable[[Any, Any], bool]] = {
    "invoice": can_invoice,
    "payment": can_payment,
    "refund": can_refund,
}


def pairs(obj: str) -> list[tuple[Any, Any]]:
    return list(product(STATUSES[obj], repeat=2))


def test_the_steps_table_covers_every_status_of_every_object() -> None:
    assert STEPS == {"invoice": INVOICE_STEPS, "payment": PAYMENT_STEPS, "refund": REFUND_STEPS}
    for obj, statuses in STATUSES.items():
        assert set(STEPS[obj]) == set(statuses), obj


def test_the_refund_lifecycle_as_documented() -> None:
    """The one table pinned by hand (the others are their own oracle above): a refund is
    made once. A failed refund is final (the PSP changing its mind to "succeeded" must
    not pay the citizen twice, the service guards it too); a succeeded one can only fail
    later, when the PSP's later word says the money came back."""
    moves = {(a, b): REFUND_STEPS[a].get(b) for a, b in pairs("refund")}
    assert {step: kind for step, kind in moves.items() if kind} == {
        ("pending", "succeeded"): TransitionKind.ordinary,
        ("pending", "failed"): TransitionKind.ordinary,
        ("succeeded", "failed"): TransitionKind.later_word_wins,
    }
    assert not any(can_refund(RefundStatus.failed, target) for target in RefundStatus)


@pytest.mark.parametrize("obj", list(STATUSES))
def test_a_step_is_taken_only_as_its_own_kind(obj: str) -> None:
    for (current, target), kind in product(pairs(obj), TransitionKind):
        found = STEPS[obj][current].get(target)
        if found == kind:
            require_step(obj, current, target, kind)
            continue
        with pytest.raises(InvalidTransition) as refused:
            require_step(obj, current, target, kind)
        err = refused.value
        assert (err.kind, err.current, err.target) == (obj, current, target)
        if found is None:
            assert str(err) == f"{obj} cannot go from {current} to {target}"
        else:
            assert str(err) == (
                f"{obj} cannot go from {current} to {target} as a {kind} transition (it is {found})"
            )


def test_an_ordinary_caller_is_the_default_and_never_takes_a_later_word_step() -> None:
    require_step("payment", "pending", "succeeded")
    require_step("refund", "succeeded", "failed", TransitionKind.later_word_wins)
    with pytest.raises(InvalidTransition) as refused:
        require_step("refund", "succeeded", "failed")
    assert str(refused.value) == (
        "refund cannot go from succeeded to failed as a ordinary transition (it is later_word_wins)"
    )


@pytest.mark.parametrize("current", ["", "draft", "PAID", None])
def test_an_unknown_current_status_is_an_invalid_transition(current: Any) -> None:
    with pytest.raises(InvalidTransition) as refused:
        require_step("invoice", current, "paid")
    assert (refused.value.current, refused.value.target) == (current, "paid")


@pytest.mark.parametrize("obj", list(STATUSES))
def test_the_transition_functions_apply_the_table_whatever_the_kind(obj: str) -> None:
    move, can = TRANSITION_FUNCTIONS[obj], CAN[obj]
    for current, target in pairs(obj):
        allowed = target in STEPS[obj][current]
        assert can(current, target) is allowed, (current, target)
        if allowed:
            assert move(current, target) == target
            continue
        with pytest.raises(InvalidTransition) as refused:
            move(current, target)
        err = refused.value
        assert (err.kind, err.current, err.target) == (obj, current, target)
        assert str(err) == f"{obj} cannot go from {current} to {target}"


def test_can_invoice_asked_for_a_kind_answers_for_that_kind_only() -> None:
    for current, target in pairs("invoice"):
        found = INVOICE_STEPS[current].get(target)
        for kind in TransitionKind:
            assert can_invoice(current, target, kind) is (found == kind), (current, target)
    # the cases the services ask about
    assert can_invoice(InvoiceStatus.refunded, InvoiceStatus.paid)
    assert not can_invoice(InvoiceStatus.refunded, InvoiceStatus.paid, TransitionKind.ordinary)
    assert can_invoice(InvoiceStatus.refunded, InvoiceStatus.paid, TransitionKind.later_word_wins)
    assert not can_invoice(InvoiceStatus.disputed, InvoiceStatus.paid, TransitionKind.ordinary)
