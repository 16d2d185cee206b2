"""Pure modules of payments: state machines, magic cards, fees, signatures."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments import signing
from payments.providers.simulator.cards import (
    CardError,
    Outcome,
    check_card,
    luhn_ok,
    simulator_fee,
)
from payments.states import (
    INVOICE_TRANSITIONS,
    PAYMENT_TRANSITIONS,
    InvalidTransition,
    InvoiceStatus,
    PaymentStatus,
    invoice_transition,
    payment_transition,
)

TODAY = dt.date(2026, 11, 24)


@given(st.lists(st.sampled_from(list(InvoiceStatus)), max_size=30))
def test_invoice_walks_follow_the_table(targets: list[InvoiceStatus]) -> None:
    state = InvoiceStatus.open
    for target in targets:
        if target in INVOICE_TRANSITIONS[state]:
            state = invoice_transition(state, target)
        else:
            with pytest.raises(InvalidTransition):
                invoice_transition(state, target)
    # paid never goes back to open (an expired invoice is paid only by a payment that was
    # on its way when it expired: a named step, see test_transitions.py)
    assert InvoiceStatus.open not in set().union(*INVOICE_TRANSITIONS.values())


@given(st.lists(st.sampled_from(list(PaymentStatus)), max_size=30))
def test_a_succeeded_payment_never_leaves_succeeded(targets: list[PaymentStatus]) -> None:
    state = PaymentStatus.pending
    seen_success = False
    for target in targets:
        try:
            state = payment_transition(state, target)
        except InvalidTransition:
            pass
        seen_success = seen_success or state == PaymentStatus.succeeded
        if seen_success:
            assert state == PaymentStatus.succeeded


def test_the_psps_later_success_wins_over_an_earlier_failure() -> None:
    for earlier in (PaymentStatus.failed, PaymentStatus.expired, PaymentStatus.canceled):
        assert PaymentStatus.succeeded in PAYMENT_TRANSITIONS[earlier]
    assert PaymentStatus.failed not in PAYMENT_TRANSITIONS[PaymentStatus.succeeded]


@pytest.mark.parametrize(
    ("number", "outcome"),
    [
        ("4242 4242 4242 4242", Outcome.succeed),
        ("4000000000000002", Outcome.decline),
        ("4000-0000-0000-9995", Outcome.insufficient_funds),
        ("4000 0000 0000 3220", Outcome.requires_action),
    ],
)
def test_magic_cards(number: str, outcome: Outcome) -> None:
    check = check_card(number, "12/30", "123", TODAY)
    assert check.outcome == outcome
    assert check.brand == "visa"
    assert check.last4 == number[-4:]


@pytest.mark.parametrize(
    ("number", "expiry", "cvc", "code"),
    [
        ("4242 4242 4242 4241", "12/30", "123", "invalid_number"),
        ("abcd", "12/30", "123", "invalid_number"),
        ("4242 4242 4242 4242", "10/26", "123", "invalid_expiry"),
        ("4242 4242 4242 4242", "13/30", "123", "invalid_expiry"),
        ("4242 4242 4242 4242", "12/3", "123", "invalid_expiry"),
        ("4242 4242 4242 4242", "12/30", "12", "invalid_cvc"),
        ("5555 5555 5555 4444", "12/30", "123", "not_a_test_card"),
    ],
)
def test_bad_cards_are_refused_with_a_reason(number: str, expiry: str, cvc: str, code: str) -> None:
    with pytest.raises(CardError) as err:
        check_card(number, expiry, cvc, TODAY)
    assert err.value.code == code


def test_luhn() -> None:
    assert luhn_ok("4242424242424242")
    assert not luhn_ok("4242424242424243")


@pytest.mark.parametrize(
    ("amount", "exp", "fee"),
    [(2500, 2, 63), (10000, 2, 175), (1, 2, 25), (1000, 0, 15), (100000, 3, 1750)],
)
def test_simulator_fee_is_one_and_a_half_percent_plus_a_quarter(
    amount: int, exp: int, fee: int
) -> None:
    assert simulator_fee(amount, exp) == fee


@given(st.integers(min_value=1, max_value=10**10))
def test_fee_is_an_integer_below_the_amount_plus_fixed(amount: int) -> None:
    fee = simulator_fee(amount, 2)
    assert isinstance(fee, int)
    assert 25 <= fee <= amount * 15 // 1000 + 26


def test_signature_round_trip_rotation_tolerance_and_forgery() -> None:
    body = b'{"id":"evt_1"}'
    header = signing.sign("whsec_new", body, timestamp=1_000_000)
    assert signing.verify(header, body, ["whsec_old", "whsec_new"], now=1_000_100) == 1_000_000
    with pytest.raises(signing.InvalidSignature):
        signing.verify(header, body, ["whsec_other"], now=1_000_100)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(header, body + b" ", ["whsec_new"], now=1_000_100)
    with pytest.raises(signing.InvalidSignature):
        signing.verify(header, body, ["whsec_new"], now=1_000_301)
    for bad in (None, "", "t=abc,v1=00", "v1=00", "t=1000000"):
        with pytest.raises(signing.InvalidSignature):
            signing.verify(bad, body, ["whsec_new"], now=1_000_000)
    # the signed payload is f"{t}.{body}" (computed here without regie's code)
    v1 = header.split(",v1=")[1]
    assert v1 == hmac.new(b"whsec_new", b"1000000." + body, hashlib.sha256).hexdigest()
    # changing t= alone breaks it, even well inside the tolerance window
    for t in (999_999, 1_000_001, 1_000_100):
        with pytest.raises(signing.InvalidSignature):
            signing.verify(f"t={t},v1={v1}", body, ["whsec_new"], now=1_000_100)
    # the window bounds the future as well as the past
    assert signing.verify(header, body, ["whsec_new"], now=1_000_000 - 300) == 1_000_000
    for now in (1_000_000 - 301, 1_000_000 - 3600):
        with pytest.raises(signing.InvalidSignature):
            signing.verify(header, body, ["whsec_new"], now=now)


def test_a_search_page_read_from_either_end_is_its_slice_of_the_newest_first_order() -> None:
    """``search.page_window``: every page of every total is the slice of the newest-first
    order it names, whether read from the newest end or from the oldest and turned round,
    and never skips more than half the rows."""
    from payments.service.search import page_window

    for total in range(0, 40):
        newest_first = list(range(total, 0, -1))
        oldest_first = newest_first[::-1]
        for size in range(1, 9):
            for number in range(1, max(1, -(-total // size)) + 1):
                skip, limit, from_oldest = page_window(total, number, size)
                assert skip <= total // 2
                rows = (oldest_first if from_oldest else newest_first)[skip : skip + limit]
                if from_oldest:
                    rows.reverse()
                start = (number - 1) * size
                assert rows == newest_first[start : start + size], (total, size, number)
