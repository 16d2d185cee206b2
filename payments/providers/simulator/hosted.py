"""The simulator's hosted checkout, behind its card page (``router``): what a PSP does
when the citizen submits a card. A test card (``cards``) settles the checkout at once
(a payment, succeeded or declined, its balance transaction if it succeeded, and the
event announcing it), or first asks for an extra confirmation step (3-D Secure style).

The functions here only write the simulator's tables; ``SimulatorProvider`` delivers the
event they return, after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.providers.base import (
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_SUCCEEDED,
    ProviderError,
)
from payments.providers.simulator.cards import DECLINE_CODES, CardCheck, Outcome, simulator_fee
from payments.providers.simulator.events import new_event
from payments.providers.simulator.models import SimCheckout, SimPayment
from payments.providers.simulator.settlement import charge_line
from regie.kit.database import Database, utcnow
from regie.kit.ids import ulid
from regie.kit.money import exponent


@dataclass(frozen=True)
class CardResult:
    """What the card page does next: go to ``redirect``, or show the confirm step."""

    redirect: str | None = None
    needs_confirmation: bool = False


@dataclass(frozen=True)
class Settled:
    success_url: str
    event_id: str  # the event to deliver


async def get_checkout(db: Database, checkout_id: str) -> SimCheckout | None:
    if not checkout_id.startswith("cs_sim_") or len(checkout_id) > 40:
        return None
    async with db.session() as s:
        return await s.get(SimCheckout, checkout_id)


async def require_action(db: Database, checkout_id: str, card: CardCheck) -> None:
    """Hold the card until the confirmation step is answered."""
    async with db.session() as s:
        cs = await s.get(SimCheckout, checkout_id, with_for_update=True)
        if cs is None or cs.status != "open":
            raise ProviderError("invalid_request", "checkout is not open")
        cs.status, cs.pending_brand, cs.pending_last4 = "requires_action", card.brand, card.last4
        await s.commit()


async def pending_card(db: Database, checkout_id: str) -> tuple[str, str]:
    """The brand and last 4 digits of the card waiting for confirmation."""
    async with db.session() as s:
        cs = await s.get(SimCheckout, checkout_id)
        if cs is None or cs.status != "requires_action":
            raise ProviderError("invalid_request", "nothing to confirm")
        return cs.pending_brand or "visa", cs.pending_last4 or "0000"


async def settle(
    db: Database, checkout_id: str, outcome: Outcome, brand: str, last4: str, *, from_status: str
) -> Settled:
    """Record the payment (succeeded or declined) and the event announcing it."""
    now = utcnow()
    async with db.session() as s:
        cs = await s.get(SimCheckout, checkout_id, with_for_update=True)
        if cs is None or cs.status != from_status or cs.expires_at <= now:
            raise ProviderError("invalid_request", "checkout is not open")
        succeeded = outcome == Outcome.succeed
        code, message = DECLINE_CODES.get(outcome, (None, None))
        sp = SimPayment(
            id=f"pi_sim_{ulid()}",
            checkout_id=cs.id,
            status="succeeded" if succeeded else "failed",
            amount=cs.amount,
            currency=cs.currency,
            brand=brand,
            last4=last4,
            fee=simulator_fee(cs.amount, exponent(cs.currency)) if succeeded else 0,
            failure_code=code,
            failure_message=message,
            created_at=now,
        )
        s.add(sp)
        if succeeded:
            s.add(charge_line(sp, cs.description))  # the balance grows, net of the fee
        cs.status, cs.sim_payment_id = ("complete" if succeeded else "failed"), sp.id
        ev = new_event(
            EVENT_PAYMENT_SUCCEEDED if succeeded else EVENT_PAYMENT_FAILED,
            now,
            {
                "checkout_id": cs.id,
                "payment_id": sp.id,
                "payment_ref": cs.payment_ref,
                "amount": cs.amount,
                "currency": cs.currency,
                "status": sp.status,
            },
        )
        s.add(ev)
        await s.commit()
        return Settled(success_url=cs.success_url, event_id=ev.id)
