"""The simulator PSP: Stripe-test-mode-like, offline, for development and demos.

It keeps its own tables (what a PSP would hold), serves its card page under
``/_simulator/`` (see ``payments.simulator_router``), and sends signed events to regie's
``/webhooks/simulator`` endpoint through the same intake as Stripe's. It refuses to run
with ``REGIE_ENV=production``: in production regie never receives a card number.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import JSON, BigInteger, Text, select
from sqlmodel import Column, Field, SQLModel, col

from payments import signing
from payments.providers.base import (
    EVENT_CHECKOUT_EXPIRED,
    EVENT_IGNORED,
    EVENT_PAYMENT_FAILED,
    EVENT_PAYMENT_SUCCEEDED,
    CheckoutRequest,
    CheckoutSession,
    CheckoutUrls,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
    SettlementLine,
    SignatureError,
)
from payments.providers.simulator_cards import DECLINE_CODES, CardCheck, Outcome, simulator_fee
from regie.kit.database import Database, UTCDateTime, utcnow
from regie.kit.ids import ulid
from regie.kit.money import exponent

log = logging.getLogger("regie.simulator")

SIGNATURE_HEADER = "simulator-signature"
MAX_SESSION = dt.timedelta(hours=24)


class SimCheckout(SQLModel, table=True):
    __tablename__ = "sim_checkouts"

    id: str = Field(primary_key=True, max_length=40)
    payment_ref: str = Field(max_length=40)
    invoice_ref: str = Field(max_length=40)
    issuer: str = Field(max_length=200)
    description: str = Field(max_length=500)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    locale: str = Field(max_length=5)
    success_url: str = Field(sa_column=Column(Text, nullable=False))
    cancel_url: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=20)  # open | requires_action | complete | failed | canceled
    pending_brand: str | None = Field(default=None, max_length=20)
    pending_last4: str | None = Field(default=None, max_length=4)
    sim_payment_id: str | None = Field(default=None, max_length=40)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SimPayment(SQLModel, table=True):
    __tablename__ = "sim_payments"

    id: str = Field(primary_key=True, max_length=40)
    checkout_id: str = Field(index=True, max_length=40)
    status: str = Field(max_length=20)  # succeeded | failed
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    amount_refunded: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    brand: str = Field(max_length=20)
    last4: str = Field(max_length=4)
    fee: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    failure_code: str | None = Field(default=None, max_length=64)
    failure_message: str | None = Field(default=None, max_length=200)
    payout_id: str | None = Field(default=None, max_length=40)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class SimRefund(SQLModel, table=True):
    __tablename__ = "sim_refunds"

    id: str = Field(primary_key=True, max_length=40)
    sim_payment_id: str = Field(index=True, max_length=40)
    idempotency_key: str = Field(max_length=255, unique=True)
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(max_length=3)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SimEvent(SQLModel, table=True):
    __tablename__ = "sim_events"

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=40)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    delivered_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    attempts: int = 0


@dataclass(frozen=True)
class CardResult:
    """What the card page does next: go to ``redirect``, or show the confirm step."""

    redirect: str | None = None
    needs_confirmation: bool = False


class SimulatorNotAllowed(RuntimeError):
    pass


class SimulatorProvider:
    name = "simulator"
    shared_account = False  # every payment it knows was created by this regie

    def __init__(
        self,
        db: Database,
        *,
        base_url: str,
        secret: str,
        delivery_client: httpx.AsyncClient | None,
        env: str = "development",
    ) -> None:
        if env == "production":
            raise SimulatorNotAllowed("the simulator PSP refuses to run with REGIE_ENV=production")
        self.db = db
        self.base_url = base_url
        self.secret = secret
        self.delivery_client = delivery_client

    # ------------------------------------------------------------------ port
    async def create_checkout(
        self, request: CheckoutRequest, urls: CheckoutUrls
    ) -> CheckoutSession:
        now = utcnow()
        expires = min(request.expires_at, now + MAX_SESSION)
        cs = SimCheckout(
            id=f"cs_sim_{ulid()}",
            payment_ref=request.payment_id,
            invoice_ref=request.invoice_id,
            issuer=request.service_name,
            description=request.description,
            amount=request.amount,
            currency=request.currency,
            locale=request.locale,
            success_url=urls.success_url,
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
        return self._truth(cs, sp)

    def _truth(self, cs: SimCheckout, sp: SimPayment | None) -> ProviderPayment:
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

    async def refund(
        self, provider_payment_id: str, amount: int, idempotency_key: str
    ) -> ProviderRefund:
        async with self.db.session() as s:
            existing = (
                await s.execute(
                    select(SimRefund).where(col(SimRefund.idempotency_key) == idempotency_key)
                )
            ).scalar_one_or_none()
            if existing is not None:
                return ProviderRefund(
                    existing.id,
                    existing.sim_payment_id,
                    existing.amount,
                    existing.currency,
                    "succeeded",
                )
            sp = await s.get(SimPayment, provider_payment_id, with_for_update=True)
            if sp is None or sp.status != "succeeded":
                raise ProviderError("invalid_request", "no such succeeded payment")
            if amount <= 0 or amount > sp.amount - sp.amount_refunded:
                raise ProviderError("invalid_request", "refund exceeds what remains of the payment")
            sp.amount_refunded += amount
            r = SimRefund(
                id=f"re_sim_{ulid()}",
                sim_payment_id=sp.id,
                idempotency_key=idempotency_key,
                amount=amount,
                currency=sp.currency,
                created_at=utcnow(),
            )
            s.add(r)
            await s.commit()
        return ProviderRefund(r.id, sp.id, amount, r.currency, "succeeded")

    async def retrieve_refund(self, refund_id: str) -> ProviderRefund:
        async with self.db.session() as s:
            r = await s.get(SimRefund, refund_id)
        if r is None:
            raise ProviderError("not_found", "no such refund")
        return ProviderRefund(r.id, r.sim_payment_id, r.amount, r.currency, "succeeded")

    async def cancel_checkout(self, checkout_id: str) -> None:
        async with self.db.session() as s:
            cs = await s.get(SimCheckout, checkout_id, with_for_update=True)
            if cs is None:
                raise ProviderError("not_found", "no such checkout")
            if cs.status in ("open", "requires_action"):
                cs.status = "canceled"
                await s.commit()

    def parse_event(self, raw_body: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        try:
            signing.verify(headers.get(SIGNATURE_HEADER), raw_body, [self.secret])
        except signing.InvalidSignature as exc:
            raise SignatureError(str(exc)) from None
        try:
            doc = json.loads(raw_body)
            return self._event_from_payload(doc)
        except (ValueError, KeyError, TypeError):
            raise SignatureError("signed body is not a simulator event") from None

    @staticmethod
    def _event_from_payload(doc: dict[str, Any]) -> ProviderEvent:
        raw_type = str(doc["type"])
        data = doc["data"]
        known = {EVENT_PAYMENT_SUCCEEDED, EVENT_PAYMENT_FAILED, EVENT_CHECKOUT_EXPIRED}
        return ProviderEvent(
            id=str(doc["id"]),
            provider="simulator",
            type=raw_type if raw_type in known else EVENT_IGNORED,
            raw_type=raw_type,
            created=dt.datetime.fromtimestamp(int(doc["created"]), dt.UTC),
            checkout_id=data.get("checkout_id"),
            provider_payment_id=data.get("payment_id"),
            payment_ref=data.get("payment_ref"),
            data=data,
        )

    async def list_events(self, since: dt.datetime) -> AsyncIterator[ProviderEvent]:
        async with self.db.session() as s:
            stmt = (
                select(SimEvent)
                .where(col(SimEvent.created_at) >= since)
                .order_by(col(SimEvent.created_at), col(SimEvent.id))
            )  # type: ignore[arg-type, operator]
            rows = list((await s.execute(stmt)).scalars())
        for ev in rows:
            yield self._event_from_payload(ev.payload)

    async def list_settlement_lines(
        self, since: dt.datetime, until: dt.datetime
    ) -> AsyncIterator[SettlementLine]:
        async with self.db.session() as s:
            stmt = (
                select(SimPayment)
                .where(
                    col(SimPayment.status) == "succeeded",
                    col(SimPayment.created_at) >= since,
                    col(SimPayment.created_at) < until,
                )  # type: ignore[operator]
                .order_by(col(SimPayment.created_at))
            )
            rows = list((await s.execute(stmt)).scalars())
        for sp in rows:
            yield SettlementLine(
                id=f"txn_{sp.id}",
                type="charge",
                provider_payment_id=sp.id,
                amount=sp.amount,
                fee=sp.fee,
                net=sp.amount - sp.fee,
                currency=sp.currency,
                payout_id=sp.payout_id,
                created=sp.created_at,
            )

    # ------------------------------------------------------- the card page side
    async def get_checkout(self, checkout_id: str) -> SimCheckout | None:
        if not checkout_id.startswith("cs_sim_") or len(checkout_id) > 40:
            return None
        async with self.db.session() as s:
            return await s.get(SimCheckout, checkout_id)

    async def pay(self, checkout_id: str, card: CardCheck) -> CardResult:
        """The citizen submitted a valid test card on the card page."""
        if card.outcome == Outcome.requires_action:
            async with self.db.session() as s:
                cs = await s.get(SimCheckout, checkout_id, with_for_update=True)
                if cs is None or cs.status != "open":
                    raise ProviderError("invalid_request", "checkout is not open")
                cs.status, cs.pending_brand, cs.pending_last4 = (
                    "requires_action",
                    card.brand,
                    card.last4,
                )
                await s.commit()
            return CardResult(needs_confirmation=True)
        return await self._settle(
            checkout_id, card.outcome, card.brand, card.last4, from_status="open"
        )

    async def confirm(self, checkout_id: str, approve: bool) -> CardResult:
        """The extra confirmation step (3-D Secure style) was approved or refused."""
        async with self.db.session() as s:
            cs = await s.get(SimCheckout, checkout_id)
            if cs is None or cs.status != "requires_action":
                raise ProviderError("invalid_request", "nothing to confirm")
            brand, last4 = cs.pending_brand or "visa", cs.pending_last4 or "0000"
        outcome = Outcome.succeed if approve else Outcome.decline
        return await self._settle(checkout_id, outcome, brand, last4, from_status="requires_action")

    async def _settle(
        self, checkout_id: str, outcome: Outcome, brand: str, last4: str, *, from_status: str
    ) -> CardResult:
        now = utcnow()
        async with self.db.session() as s:
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
            cs.status, cs.sim_payment_id = ("complete" if succeeded else "failed"), sp.id
            event_type = EVENT_PAYMENT_SUCCEEDED if succeeded else EVENT_PAYMENT_FAILED
            ev = SimEvent(
                id=f"evt_sim_{ulid()}",
                type=event_type,
                created_at=now,
                payload={
                    "id": "",
                    "object": "event",
                    "type": event_type,
                    "created": int(now.timestamp()),
                    "data": {
                        "checkout_id": cs.id,
                        "payment_id": sp.id,
                        "payment_ref": cs.payment_ref,
                        "amount": cs.amount,
                        "currency": cs.currency,
                        "status": sp.status,
                    },
                },
            )
            ev.payload = {**ev.payload, "id": ev.id}
            s.add(ev)
            await s.commit()
            success_url = cs.success_url
        await self.deliver(ev.id)
        return CardResult(redirect=success_url)

    async def deliver(self, event_id: str) -> bool:
        """POST one event, signed, to regie's webhook endpoint. Undelivered events are
        retried by ``redeliver_pending`` and can be pulled with ``list_events``."""
        async with self.db.session() as s:
            ev = await s.get(SimEvent, event_id)
            if ev is None or self.delivery_client is None:
                return False
            body = json.dumps(ev.payload, separators=(",", ":")).encode()
        ok = False
        try:
            resp = await self.delivery_client.post(
                "/webhooks/simulator",
                content=body,
                headers={
                    "content-type": "application/json",
                    "Simulator-Signature": signing.sign(self.secret, body),
                },
                timeout=10,
            )
            ok = 200 <= resp.status_code < 300
        except httpx.HTTPError as exc:
            log.warning(
                "simulator event delivery failed",
                extra={"event": event_id, "error_class": type(exc).__name__},
            )
        async with self.db.session() as s:
            row = await s.get(SimEvent, event_id, with_for_update=True)
            if row is not None:
                row.attempts += 1
                if ok:
                    row.delivered_at = utcnow()
                await s.commit()
        return ok

    async def redeliver_pending(self, limit: int = 50) -> int:
        async with self.db.session() as s:
            stmt = (
                select(col(SimEvent.id))
                .where(col(SimEvent.delivered_at).is_(None), col(SimEvent.attempts) < 20)
                .order_by(col(SimEvent.created_at))
                .limit(limit)
            )
            ids = list((await s.execute(stmt)).scalars())
        delivered = 0
        for event_id in ids:
            delivered += await self.deliver(event_id)
        return delivered
