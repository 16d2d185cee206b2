"""Refunds the sweep recovers: those whose submission cannot settle them the plain way.

- Taken over (``take_over``): a refund first asked more than ``TAKEOVER_AFTER`` ago, its
  outcome still unknown, is not retried blind (the PSP may have forgotten its idempotency
  key): the payment's refunds at the PSP are listed and the one whose metadata names it is
  adopted, or the reservation fails with the reason (``NOT_AT_PSP``).
- Released but made (``released_but_made``): the PSP made a refund whose reservation was
  released meanwhile; the money it moved is booked as a refund of its own, never dropped.
- Refunded elsewhere (``refunded_elsewhere``, with ``refunds_at_psp``): an automatic refund
  of an overpayment the PSP refuses because the payment was refunded by other means (its
  dashboard) is released quietly, and what is still owed is reserved again.

``refunds`` submits; this module is what it (and its sweep) calls on those paths.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

from payments import repository as repo
from payments.models import Invoice, Payment, Refund
from payments.providers.base import ProviderError, ProviderRefund
from payments.providers.registry import ProviderRegistry
from payments.service import refund_events
from payments.service import refund_outcomes as outcomes
from payments.states import RefundStatus
from regie.kit.database import Database
from regie.kit.events import EventBus
from regie.kit.uow import UnitOfWork, unit_of_work

log = logging.getLogger("regie.refunds")

# Stripe forgets an idempotency key 24 h after its first use: past this, a retry could
# make a second real refund, so the PSP's list of the payment's refunds is read instead.
TAKEOVER_AFTER = dt.timedelta(hours=23)
NOT_AT_PSP = (
    "not confirmed by the PSP within 23 h and not among the payment's refunds there; "
    "not retried, as the PSP forgets idempotency keys after 24 h"
)
_TAKEN = frozenset({"pending", "succeeded"})  # the PSP's refunds that give money back

# reserves an automatic refund of an overpayment (under a cause, of ``amount``): what the
# PSP still holds of what it owed (``RefundService.reserve_overpayment_refund``)
ReserveRefund = Callable[[UnitOfWork, Invoice, Payment, str, int], Awaitable[None]]


class RefundRecovery:
    def __init__(
        self, db: Database, bus: EventBus, providers: ProviderRegistry, reserve: ReserveRefund
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.reserve = reserve

    async def take_over(self, refund: Refund, provider_payment_id: str) -> Refund:
        """The refund's first attempt is older than the PSP's memory of idempotency keys
        (Stripe: 24 h) allows a safe retry: list the payment's refunds and take over the
        one whose metadata names this refund, or fail the reservation, saying why."""
        cause, due_at = "sweeper:refund-takeover", refund.next_attempt_at
        try:
            found = await self.providers.get(refund.provider).list_refunds(provider_payment_id)
        except ProviderError as exc:
            found = None
            log.warning(
                "cannot list the payment's refunds; will look again",
                extra={"refund": refund.id, "error": exc.kind},
            )
        async with unit_of_work(self.db, self.bus) as uow:
            inv, refund = await outcomes.lock(uow, refund.id)
            match = next((r for r in found or () if r.regie_refund_id == refund.id), None)
            if refund.status != RefundStatus.pending or refund.provider_refund_id:
                # released while the PSP was listed (a chargeback of the duplicate): what
                # the PSP made for it all the same is booked, as ``submit`` books an answer
                if match is not None and not refund.provider_refund_id:
                    if await self.released_but_made(uow, refund, match):
                        await uow.commit()
                return refund
            if found is None:
                outcomes.later(refund, due_at)  # never a blind retry: look again later
            elif match is not None:
                await outcomes.adopt(uow, inv, refund, match, cause=cause)
            else:
                payment = await repo.get_payment(uow.session, refund.payment_id)
                if not await self.refunded_elsewhere(uow, inv, refund, payment, found, cause=cause):
                    outcomes.fail(uow, inv, refund, NOT_AT_PSP, cause=cause)
            await uow.commit()
            return refund

    async def released_but_made(
        self, uow: UnitOfWork, refund: Refund, result: ProviderRefund
    ) -> bool:
        """The reservation was released while the PSP was making it (a chargeback of the
        duplicate gave the money back meanwhile), but the PSP did make it: the money it
        moved is booked as a refund of its own, as its event would be (``refund_events``),
        never dropped. False when nothing was moved or another row already holds it."""
        if result.status == RefundStatus.failed or (
            await repo.refund_by_provider_id(uow.session, refund.provider, result.id)
        ):
            return False
        payment = await repo.get_payment(uow.session, refund.payment_id)
        assert payment is not None
        data = {"refund_id": result.id, "provider_payment_id": payment.provider_payment_id}
        await refund_events.apply_event(
            uow, self.providers, refund.provider, data, result, "api:refund"
        )
        return True

    async def refunds_at_psp(
        self, refund: Refund, provider_payment_id: str
    ) -> Sequence[ProviderRefund] | None:
        """The payment's refunds at the PSP; None if it cannot say now (asked again later),
        none if it refuses to say."""
        try:
            return await self.providers.get(refund.provider).list_refunds(provider_payment_id)
        except ProviderError as exc:
            log.warning(
                "cannot list the payment's refunds",
                extra={"refund": refund.id, "error": exc.kind},
            )
            return None if exc.retryable or exc.kind == "unavailable" else ()

    async def refunded_elsewhere(
        self,
        uow: UnitOfWork,
        inv: Invoice,
        refund: Refund,
        payment: Payment | None,
        at_psp: Sequence[ProviderRefund],
        *,
        cause: str,
    ) -> bool:
        """An automatic refund of an overpayment the PSP cannot make because the payment
        was refunded meanwhile by other means (its dashboard): the payer has that money
        back, so the reservation is released without ``RefundFailed``, and what the PSP
        still holds of what it owed (if any) is reserved again. Those refunds are booked
        by their own events. False: nothing at the PSP explains the refusal."""
        assert payment is not None
        if refund.origin != "overpayment":
            return False  # (a refund the service asked for: its caller is told, and decides)
        others = [r for r in at_psp if r.status in _TAKEN and r.regie_refund_id != refund.id]
        left = max(payment.amount - sum(r.amount for r in others), 0)
        if left >= refund.amount:
            return False
        ids = ", ".join(r.id for r in others[:3])
        reason = f"already refunded at the PSP ({ids})"
        if left:
            reason = f"refunded in part at the PSP ({ids}); the rest, {left}, reserved again"
            await self.reserve(uow, inv, payment, cause, left)
        outcomes.fail(uow, inv, refund, reason, cause=cause, notify=False)
        return True
