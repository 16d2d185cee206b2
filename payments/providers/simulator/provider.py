"""``SimulatorProvider``: the port, on the simulator's own tables.

regie's side of the simulator, as ``StripeProvider`` is regie's side of Stripe: open a
checkout (whose URL is the simulator's card page), tell the truth about a payment,
refund, cancel, verify events and list them, report settlement. The card page's side
(``hosted``, ``router``) settles checkouts; ``pay_out`` pays the balance out to the bank
(``payouts``); the events they record are delivered by ``deliver`` and
``redeliver_pending`` (a worker job). ``jobs`` adds the daily payout to the worker, like
Stripe's automatic payouts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace

import httpx
from sqlalchemy import select
from sqlmodel import col

from payments.providers.base import (
    CHECKOUT_ID_PLACEHOLDER,
    AmountRefusal,
    CheckoutRequest,
    CheckoutSession,
    CheckoutUrls,
    ProviderDispute,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    SettlementLine,
)
from payments.providers.simulator import events, hosted, payouts, settlement
from payments.providers.simulator.cards import CardCheck, Outcome
from payments.providers.simulator.hosted import CardResult
from payments.providers.simulator.models import SimCheckout, SimPayment, SimRefund
from payments.providers.simulator.payouts import PayoutMade
from payments.providers.simulator.records import bank_day
from regie.kit.bank_days import is_bank_day
from regie.kit.database import Database, utcnow
from regie.kit.ids import ulid
from regie.kit.settings import UnsafeSettingsError
from regie.kit.wiring import Job

MAX_SESSION = dt.timedelta(hours=24)
# how often the worker looks for yesterday's balance to pay out (it pays once a bank day)
PAYOUT_CHECK_EVERY = dt.timedelta(minutes=10)


class SimulatorNotAllowed(UnsafeSettingsError):
    """An unsafe setting: the command line says it in one line (``regie.cli.main``)."""


class SimulatorProvider:
    name = "simulator"
    shared_account = False  # every payment it knows was created by this regie
    min_checkout_life = dt.timedelta(0)  # a checkout may end whenever its invoice does

    def __init__(
        self,
        db: Database,
        *,
        base_url: str,
        secret: str,
        delivery_client: httpx.AsyncClient | None,
        env: str = "development",
        daily_payouts: bool = False,
    ) -> None:
        if env == "production":
            raise SimulatorNotAllowed(
                "REGIE_PSP=simulator: the simulator PSP refuses to run with REGIE_ENV=production"
            )
        self.db = db
        self.base_url = base_url
        self.secret = secret
        self.delivery_client = delivery_client
        self.daily_payouts = daily_payouts
        # disputes exist at the simulator only when a test or the demo says so
        self.disputes: dict[str, ProviderDispute] = {}

    # ------------------------------------------------------------------ port
    def check_amount(self, amount: int, currency: str) -> AmountRefusal | None:
        """The simulator charges any amount of any currency an invoice may have."""
        return None

    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession:
        now = utcnow()
        expires = min(request.expires_at, now + MAX_SESSION)
        checkout_id = f"cs_sim_{ulid()}"
        cs = SimCheckout(
            id=checkout_id,
            payment_ref=request.payment_id,
            invoice_ref=request.invoice_id,
            issuer=request.service_name,
            description=request.description,
            amount=request.amount,
            currency=request.currency,
            locale=request.locale,
            # as Stripe does: the checkout's id in place of the placeholder
            success_url=urls.success_url.replace(CHECKOUT_ID_PLACEHOLDER, checkout_id),
            cancel_url=urls.cancel_url,
            status="open",
            expires_at=expires,
            created_at=now,
        )
        async with self.db.session() as s:
            s.add(cs)
            await s.commit()
        return CheckoutSession(
            id=cs.id, url=f"{self.base_url}/_simulator/checkout/{cs.id}", expires_at=expires
        )

    async def retrieve_payment(self, provider_ref: str) -> ProviderPayment:
        async with self.db.session() as s:
            cs = await s.get(SimCheckout, provider_ref)
            if cs is None:
                sp = await s.get(SimPayment, provider_ref)
                cs = await s.get(SimCheckout, sp.checkout_id) if sp else None
            if cs is None:
                raise ProviderError("not_found", "no such checkout or payment")
            sp = await s.get(SimPayment, cs.sim_payment_id) if cs.sim_payment_id else None
        return _truth(cs, sp)

    async def refund(
        self,
        provider_payment_id: str,
        amount: int,
        idempotency_key: str,
        *,
        regie_refund_id: str | None = None,
    ) -> ProviderRefund:
        by_key = select(SimRefund).where(col(SimRefund.idempotency_key) == idempotency_key)
        async with self.db.session() as s:
            existing = (await s.execute(by_key)).scalar_one_or_none()
            if existing is not None:
                return _refund(existing)
            sp = await s.get(SimPayment, provider_payment_id, with_for_update=True)
            if sp is None or sp.status != "succeeded":
                raise ProviderError("invalid_request", "no such succeeded payment")
            # looked up again under the payment's lock: a request with the same key that
            # held it (the API's and the sweeper's at once) made the refund meanwhile, and
            # it is answered again, as Stripe answers a key's first result
            existing = (await s.execute(by_key)).scalar_one_or_none()
            if existing is not None:
                return _refund(existing)
            if amount <= 0 or amount > sp.amount - sp.amount_refunded:
                raise ProviderError("invalid_request", "refund exceeds what remains of the payment")
            cs = await s.get(SimCheckout, sp.checkout_id)
            sp.amount_refunded += amount
            r = SimRefund(
                id=f"re_sim_{ulid()}",
                sim_payment_id=sp.id,
                idempotency_key=idempotency_key,
                regie_refund_id=regie_refund_id,
                amount=amount,
                currency=sp.currency,
                created_at=utcnow(),
            )
            s.add(r)
            s.add(settlement.refund_line(r, cs.description if cs else sp.id))
            await s.commit()
        return _refund(r)

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund:
        """The refund, with the regie payment its checkout was made for (``payment_ref``)."""
        async with self.db.session() as s:
            r = await s.get(SimRefund, refund_id)
            if r is None:
                raise ProviderError("not_found", "no such refund")
            sp = await s.get(SimPayment, r.sim_payment_id)
            cs = await s.get(SimCheckout, sp.checkout_id) if sp else None
        return replace(_refund(r), payment_ref=cs.payment_ref if cs else None)

    async def list_refunds(self, provider_payment_id: str) -> list[ProviderRefund]:
        async with self.db.session() as s:
            stmt = (
                select(SimRefund)
                .where(col(SimRefund.sim_payment_id) == provider_payment_id)
                .order_by(col(SimRefund.created_at).desc())
            )
            return [_refund(r) for r in (await s.execute(stmt)).scalars()]

    def set_dispute(self, dispute: ProviderDispute) -> None:
        """Open a dispute, or move it on (withdrawn, reinstated, closed), at the simulator."""
        self.disputes[dispute.id] = dispute

    async def retrieve_dispute(self, dispute_id: str) -> ProviderDispute:
        """The dispute, with the regie payment its checkout was made for (``payment_ref``),
        as a refund has it."""
        found = self.disputes.get(dispute_id)
        if found is None:
            raise ProviderError("not_found", f"no such dispute: {dispute_id}")
        if found.payment_ref is None and found.provider_payment_id:
            async with self.db.session() as s:
                sp = await s.get(SimPayment, found.provider_payment_id)
                cs = await s.get(SimCheckout, sp.checkout_id) if sp else None
            if cs is not None:
                found = replace(found, payment_ref=cs.payment_ref)
        return found

    async def cancel_checkout(self, checkout_id: str) -> bool:
        """Close the card page. False when it was paid: nothing else can be stopped."""
        async with self.db.session() as s:
            cs = await s.get(SimCheckout, checkout_id, with_for_update=True)
            if cs is None:
                raise ProviderError("not_found", "no such checkout")
            if cs.status in ("open", "requires_action"):
                cs.status = "canceled"
                await s.commit()
            return cs.status != "complete"

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        return events.parse_event(raw_body, headers, self.secret)

    async def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]:
        for event in await events.list_events(self.db, since):
            yield event

    async def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]:
        async for line in settlement.list_settlement_lines(self.db, since, until):
            yield line

    async def list_payout_lines(self, payout_id: str) -> AsyncIterator[SettlementLine]:
        async for line in settlement.list_payout_lines(self.db, payout_id):
            yield line

    # ------------------------------------------------------------------ payouts
    async def pay_out(
        self, now: dt.datetime | None = None, *, created_before: dt.datetime | None = None
    ) -> list[PayoutMade]:
        """Pay the available balance out to the bank now, one payout per currency, and
        deliver each payout's events (``payout.paid``, then ``payout.reconciled``)."""
        made = await payouts.pay_out(self.db, now or utcnow(), created_before=created_before)
        out = []
        for payout in made:
            delivered = [await self.deliver(event_id) for event_id in payout.event_ids]
            out.append(replace(payout, delivered=all(delivered)))
        return out

    async def pay_out_daily(self) -> list[PayoutMade]:
        """The automatic payout: once a bank day (TARGET2's, the Europe/Paris day), what the
        balance held at its start; nothing on a Saturday, a Sunday or a TARGET2 closing day,
        as Stripe makes automatic payouts on business days only (the first bank day after
        pays out all that waited). Run it as often as you like: a line is paid out once."""
        now = utcnow()
        if not is_bank_day(bank_day(now)):
            return []
        return await self.pay_out(now, created_before=payouts.start_of_bank_day(now))

    def jobs(self) -> list[Job]:
        """The simulator's own periodic jobs (``payments.wiring`` adds them to the worker)."""
        if not self.daily_payouts:
            return []
        return [Job("simulator-payout", PAYOUT_CHECK_EVERY, self.pay_out_daily)]

    # ------------------------------------------------------- the card page side
    async def get_checkout(self, checkout_id: str) -> SimCheckout | None:
        return await hosted.get_checkout(self.db, checkout_id)

    async def pay(self, checkout_id: str, card: CardCheck) -> CardResult:
        """The citizen submitted a valid test card on the card page."""
        if card.outcome == Outcome.requires_action:
            await hosted.require_action(self.db, checkout_id, card)
            return CardResult(needs_confirmation=True)
        return await self._settle(
            checkout_id, card.outcome, card.brand, card.last4, from_status="open"
        )

    async def confirm(self, checkout_id: str, approve: bool) -> CardResult:
        """The extra confirmation step (3-D Secure style) was approved or refused."""
        brand, last4 = await hosted.pending_card(self.db, checkout_id)
        outcome = Outcome.succeed if approve else Outcome.decline
        return await self._settle(checkout_id, outcome, brand, last4, from_status="requires_action")

    async def _settle(
        self, checkout_id: str, outcome: Outcome, brand: str, last4: str, *, from_status: str
    ) -> CardResult:
        settled = await hosted.settle(
            self.db, checkout_id, outcome, brand, last4, from_status=from_status
        )
        await self.deliver(settled.event_id)
        return CardResult(redirect=settled.success_url)

    # ----------------------------------------------------------------- delivery
    async def deliver(self, event_id: str) -> bool:
        """POST one event, signed, to regie's webhook endpoint. Undelivered events are
        retried by ``redeliver_pending`` and can be pulled with ``list_events``."""
        return await events.deliver(self.db, self.delivery_client, self.secret, event_id)

    async def redeliver_pending(self, limit: int = 50) -> int:
        delivered = 0
        for event_id in await events.undelivered(self.db, limit):
            delivered += await self.deliver(event_id)
        return delivered


def _refund(r: SimRefund) -> ProviderRefund:
    return ProviderRefund(
        r.id, r.sim_payment_id, r.amount, r.currency, "succeeded", regie_refund_id=r.regie_refund_id
    )


def _truth(cs: SimCheckout, sp: SimPayment | None) -> ProviderPayment:
    if sp is not None:
        status = "succeeded" if sp.status == "succeeded" else "failed"
    elif cs.status == "canceled":
        status = "canceled"
    elif cs.expires_at <= utcnow():
        status = "expired"
    else:
        status = "pending"
    return ProviderPayment(
        checkout_id=cs.id,
        provider_payment_id=sp.id if sp else None,
        status=status,
        amount=cs.amount,
        currency=cs.currency,
        payment_ref=cs.payment_ref,
        card_brand=sp.brand if sp else None,
        card_last4=sp.last4 if sp else None,
        fee=sp.fee if sp and sp.status == "succeeded" else None,
        failure_code=sp.failure_code if sp else None,
        failure_message=sp.failure_message if sp else None,
    )
