"""Use cases of ``payments``. Each public method owns its transaction (unit of work)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from payments import accounting
from payments import repository as repo
from payments.events import (
    DisputeClosed,
    InvoiceCanceled,
    InvoiceDisputed,
    InvoiceExpired,
    InvoiceIssued,
    InvoicePaid,
    OverpaymentDetected,
    PaymentFailed,
)
from payments.models import Invoice, InvoiceLine, Payment, Refund, StateChange
from payments.providers.base import (
    EVENT_DISPUTE_CLOSED,
    EVENT_DISPUTE_OPENED,
    EVENT_PAYOUT_FAILED,
    EVENT_PAYOUT_PAID,
    EVENT_REFUND_UPDATED,
    PAYMENT_EVENTS,
    CheckoutRequest,
    CheckoutUrls,
    PaymentProvider,
    ProviderError,
    ProviderEvent,
    ProviderPayment,
    ProviderRefund,
)
from payments.providers.registry import ProviderRegistry
from payments.refunds import RefundService, refundable
from payments.schemas import (
    Card,
    InvoiceCreate,
    InvoiceList,
    InvoiceOut,
    LineOut,
    PayerOut,
    PaymentFailure,
    PaymentOut,
)
from payments.states import InvoiceStatus, PaymentStatus, can_invoice, can_payment
from regie.kit.auth import Principal
from regie.kit.database import Database, is_unique_violation, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
from regie.kit.events import EventBus
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id, new_token
from regie.kit.sequences import next_value
from regie.kit.tenancy import Role
from regie.kit.uow import UnitOfWork, unit_of_work

log = logging.getLogger("regie.payments")

MAX_INVOICE_TTL = dt.timedelta(days=366)
RECHECK_BACKOFF = (dt.timedelta(minutes=5), dt.timedelta(hours=1), dt.timedelta(days=1))


def recheck_delay(check_count: int) -> dt.timedelta:
    """Delay before the next re-check after ``check_count`` checks (the first is at 5 min)."""
    return RECHECK_BACKOFF[min(check_count, len(RECHECK_BACKOFF) - 1)]


MIN_INVOICE_TTL = dt.timedelta(minutes=30)


@dataclass(frozen=True)
class PayLink:
    invoice: InvoiceOut
    issuer: str
    timezone: str


@dataclass(frozen=True)
class PaymentsConfig:
    base_url: str
    max_amount: int
    default_ttl: dt.timedelta
    auto_refund_overpayments: bool = True
    bank_account: str = "main"


class PaymentsService:
    def __init__(
        self, db: Database, bus: EventBus, providers: ProviderRegistry, config: PaymentsConfig
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.config = config
        self.refunds = RefundService(self)

    @property
    def provider(self) -> PaymentProvider:
        """The default provider: where new checkouts go. Anything about an existing payment
        goes to ``self.providers.get(payment.provider)``."""
        return self.providers.default

    # ----------------------------------------------------------------- reading
    def payment_url(self, invoice: Invoice) -> str:
        return f"{self.config.base_url}/pay/{invoice.pay_token}"

    def _payment_out(self, p: Payment) -> PaymentOut:
        return PaymentOut(
            id=p.id,
            invoice=p.invoice_id,
            status=p.status,
            provider=p.provider,
            amount=p.amount,
            currency=p.currency,
            fee=p.fee,
            card=Card(brand=p.card_brand, last4=p.card_last4) if p.card_last4 else None,
            failure=PaymentFailure(code=p.failure_code, message=p.failure_message)
            if p.failure_code
            else None,
            provider_payment_id=p.provider_payment_id,
            is_overpayment=p.is_overpayment,
            created_at=p.created_at,
            succeeded_at=p.succeeded_at,
        )

    def _invoice_out(
        self,
        inv: Invoice,
        lines: list[InvoiceLine],
        payments: list[Payment],
        slug: str,
        refunds: list[Refund] | None = None,
    ) -> InvoiceOut:
        due = inv.amount_total - inv.amount_paid if inv.status == InvoiceStatus.open else 0
        return InvoiceOut(
            id=inv.id,
            number=inv.number,
            service=slug,
            status=inv.status,
            currency=inv.currency,
            amount_total=inv.amount_total,
            amount_paid=inv.amount_paid,
            amount_refunded=inv.amount_refunded,
            amount_due=due,
            amount_refundable=refundable(inv, refunds or []),
            lines=[
                LineOut(
                    description=x.description,
                    quantity=x.quantity,
                    unit_amount=x.unit_amount,
                    amount=x.amount,
                )
                for x in lines
            ],
            reference=inv.reference,
            description=inv.description,
            payer=PayerOut(
                name=inv.payer_name,
                email=inv.payer_email,
                company_id=inv.payer_company_id,
                vat_number=inv.payer_vat_number,
            ),
            metadata=dict(inv.metadata_ or {}),
            locale=inv.locale,
            expires_at=inv.expires_at,
            return_url=inv.return_url,
            payment_url=self.payment_url(inv),
            payments=[self._payment_out(p) for p in payments],
            created_at=inv.created_at,
            updated_at=inv.updated_at,
            paid_at=inv.paid_at,
            canceled_at=inv.canceled_at,
            expired_at=inv.expired_at,
        )

    async def _render(self, uow: UnitOfWork, invoices: list[Invoice]) -> list[InvoiceOut]:
        ids = [i.id for i in invoices]
        lines = await repo.lines_of(uow.session, ids)
        pays = await repo.payments_of(uow.session, ids)
        slugs = await repo.service_slugs(uow.session, [i.service_id for i in invoices])
        refunds = await repo.refunds_of(uow.session, [i.id for i in invoices if i.amount_paid])
        return [
            self._invoice_out(
                i, lines[i.id], pays[i.id], slugs.get(i.service_id, ""), refunds.get(i.id)
            )
            for i in invoices
        ]

    async def invoice_view(self, uow: UnitOfWork, invoice_id: str) -> InvoiceOut:
        """The API view of an invoice, read inside the caller's unit of work (so that an
        outbox row written by a subscriber shows the state being committed)."""
        await uow.session.flush()
        inv = await repo.get_invoice(uow.session, invoice_id)
        if inv is None:
            raise NotFound("invoice", "id")
        return (await self._render(uow, [inv]))[0]

    @staticmethod
    def _scope(principal: Principal) -> str | None:
        return None if principal.sees_all else principal.service_id

    @staticmethod
    async def _slug(uow: UnitOfWork, inv: Invoice) -> str:
        svc = await repo.get_service(uow.session, inv.service_id)
        return svc.slug if svc else inv.service_id

    async def get_invoice(self, principal: Principal, invoice_id: str) -> InvoiceOut:
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice(uow.session, invoice_id, service_id=self._scope(principal))
            if inv is None:
                raise NotFound("invoice", "id")
            return (await self._render(uow, [inv]))[0]

    async def list_invoices(
        self, principal: Principal, *, limit: int, **filters: Any
    ) -> InvoiceList:
        async with unit_of_work(self.db, self.bus) as uow:
            rows = await repo.list_invoices(
                uow.session, service_id=self._scope(principal), limit=limit + 1, **filters
            )
            has_more = len(rows) > limit
            rows = rows[:limit]
            data = await self._render(uow, rows)
        return InvoiceList(
            data=data, has_more=has_more, next_starting_after=rows[-1].id if has_more else None
        )

    async def get_payment(self, principal: Principal, payment_id: str) -> PaymentOut:
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id, service_id=self._scope(principal))
            if p is None:
                raise NotFound("payment", "id")
            return self._payment_out(p)

    # ----------------------------------------------------------------- writing
    @staticmethod
    def _audit(
        uow: UnitOfWork,
        inv: Invoice,
        *,
        obj: str,
        from_status: str | None,
        to_status: str,
        cause: str,
        payment: Payment | None = None,
        note: str | None = None,
    ) -> None:
        uow.session.add(
            StateChange(
                service_id=inv.service_id,
                invoice_id=inv.id,
                payment_id=payment.id if payment else None,
                object=obj,
                from_status=from_status,
                to_status=to_status,
                cause=cause,
                note=note,
                created_at=utcnow(),
            )
        )

    async def create_invoice(
        self, principal: Principal, data: InvoiceCreate, claim: Claim | None
    ) -> tuple[int, Any]:
        if principal.role != Role.service:
            raise ApiError(403, "insufficient_role", "Invoices are created with a service key.")
        now = utcnow()
        expires_at = data.expires_at or now + self.config.default_ttl
        if expires_at < now + MIN_INVOICE_TTL:
            raise ApiError(
                422,
                "parameter_invalid",
                "expires_at must be at least 30 minutes in the future.",
                param="expires_at",
            )
        if expires_at > now + MAX_INVOICE_TTL:
            raise ApiError(
                422, "parameter_invalid", "expires_at must be within one year.", param="expires_at"
            )
        if data.lines is not None:
            lines = [(ln.description, ln.quantity, ln.unit_amount) for ln in data.lines]
        else:
            assert data.amount is not None
            lines = [(data.description, 1, data.amount)]
        total = 0
        for i, (_, qty, unit) in enumerate(lines):
            if unit > self.config.max_amount or qty * unit > self.config.max_amount:
                raise ApiError(
                    422,
                    "amount_too_large",
                    f"An amount may be at most {self.config.max_amount}.",
                    param=f"lines.{i}.unit_amount" if data.lines is not None else "amount",
                )
            total += qty * unit
        if total > self.config.max_amount:
            raise ApiError(
                422,
                "amount_too_large",
                f"The total may be at most {self.config.max_amount}.",
                param="amount",
            )

        async with unit_of_work(self.db, self.bus) as uow:
            s = uow.session
            # No SELECT for the reference: the unique index answers, and without a race.
            seq = await next_value(s, f"invoice:{principal.service_id}", str(now.year))
            inv = Invoice(
                id=new_id("inv"),
                service_id=principal.service_id,
                number=f"{principal.service_slug.upper()}-{now.year}-{seq:06d}",
                reference=data.reference,
                description=data.description,
                currency=data.currency,
                amount_total=total,
                status=InvoiceStatus.open,
                payer_name=data.payer.name,
                payer_email=data.payer.email,
                payer_company_id=data.payer.company_id,
                payer_vat_number=data.payer.vat_number,
                metadata_=dict(data.metadata),
                locale=data.locale,
                return_url=data.return_url,
                pay_token=new_token(24),
                expires_at=expires_at,
                created_at=now,
                updated_at=now,
            )
            s.add(inv)
            line_rows = []
            for pos, (desc, qty, unit) in enumerate(lines):
                line_rows.append(
                    InvoiceLine(
                        id=new_id("li"),
                        invoice_id=inv.id,
                        service_id=inv.service_id,
                        position=pos,
                        description=desc,
                        quantity=qty,
                        unit_amount=unit,
                        amount=qty * unit,
                    )
                )
            s.add_all(line_rows)
            await accounting.invoice_issued(s, inv, principal.service_slug)
            self._audit(
                uow, inv, obj="invoice", from_status=None, to_status=inv.status, cause="api:create"
            )
            uow.publish(InvoiceIssued(inv.id, inv.service_id, total, inv.currency, "api:create"))
            out = self._invoice_out(inv, line_rows, [], principal.service_slug)
            body = out.model_dump(mode="json")
            try:  # one flush for everything: the reference's unique index speaks here
                if claim:
                    await claim.complete(s, 201, body)  # (autoflushes first)
                await uow.commit()
            except IntegrityError as exc:
                if is_unique_violation(exc):
                    raise _reference_used() from None
                raise
        return 201, body

    async def cancel_invoice(
        self, principal: Principal, invoice_id: str, claim: Claim | None
    ) -> tuple[int, Any]:
        if principal.role not in (Role.service, Role.admin):
            raise ApiError(403, "insufficient_role", "Invoices are canceled with a service key.")
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice(
                uow.session, invoice_id, service_id=self._scope(principal), lock=True
            )
            if inv is None:
                raise NotFound("invoice", "id")
            if not can_invoice(InvoiceStatus(inv.status), InvoiceStatus.canceled):
                raise Conflict(
                    "invoice_not_cancelable", f"A {inv.status} invoice cannot be canceled."
                )
            checkouts = await self._close(uow, inv, InvoiceStatus.canceled, "api:cancel")
            await uow.session.flush()
            body = (await self._render(uow, [inv]))[0].model_dump(mode="json")
            if claim:
                await claim.complete(uow.session, 200, body)
            await uow.commit()
        await self._cancel_checkouts(checkouts)
        return 200, body

    async def _close(
        self, uow: UnitOfWork, inv: Invoice, target: InvoiceStatus, cause: str
    ) -> list[tuple[str, str]]:
        """An open invoice is canceled or expired: its pending payments follow, the ledger
        reverses the issue, the event is published. Returns the checkouts to cancel at the
        PSP once committed."""
        now = utcnow()
        payment_target = (
            PaymentStatus.canceled if target == InvoiceStatus.canceled else PaymentStatus.expired
        )
        self._audit(uow, inv, obj="invoice", from_status=inv.status, to_status=target, cause=cause)
        inv.status, inv.updated_at = target, now
        if target == InvoiceStatus.canceled:
            inv.canceled_at = now
        else:
            inv.expired_at = now
        await accounting.invoice_closed(uow.session, inv, target.value, now)
        checkouts: list[tuple[str, str]] = []
        for p in await repo.pending_payments_of(uow.session, inv.id):
            self._audit(
                uow,
                inv,
                obj="payment",
                payment=p,
                from_status=p.status,
                to_status=payment_target,
                cause=cause,
            )
            p.status, p.updated_at = payment_target, now
            if p.checkout_id:
                checkouts.append((p.provider, p.checkout_id))
        event = InvoiceCanceled if target == InvoiceStatus.canceled else InvoiceExpired
        uow.publish(event(inv.id, inv.service_id, inv.amount_total, inv.currency, cause))
        return checkouts

    async def _cancel_checkouts(self, checkouts: list[tuple[str, str]]) -> None:
        # After commit: if the PSP is down the checkout still expires on its own before the
        # invoice's expiry, and a payment that slips through is recorded as an overpayment.
        for provider, cid in checkouts:
            try:
                await self.providers.get(provider).cancel_checkout(cid)
            except ProviderError as exc:
                log.warning("could not cancel checkout", extra={"checkout": cid, "kind": exc.kind})

    async def recheck_pending(self, limit: int = 50) -> int:
        """Re-ask the PSP about payments stuck in ``pending``: webhooks can be lost.

        Backoff per payment: 5 min, 1 h, then daily (``RECHECK_BACKOFF``). Returns how many
        payments changed state.
        """
        now = utcnow()
        async with self.db.session() as s:
            due = await repo.pending_due_for_check(s, now, limit)
        changed = 0
        for payment_id in due:
            async with self.db.session() as s:
                p = await repo.get_payment(s, payment_id)
            if p is None or p.status != PaymentStatus.pending or p.checkout_id is None:
                continue
            try:
                truth = await self.providers.get(p.provider).retrieve_payment(p.checkout_id)
            except ProviderError as exc:
                log.warning("recheck failed", extra={"payment": payment_id, "kind": exc.kind})
                truth = None
            async with unit_of_work(self.db, self.bus) as uow:
                p = await repo.get_payment(uow.session, payment_id)
                if p is None or p.status != PaymentStatus.pending:
                    continue
                inv = await repo.get_invoice(uow.session, p.invoice_id, lock=True)
                p = await repo.get_payment(uow.session, payment_id, lock=True)
                assert inv is not None and p is not None
                outcome = "unchanged"
                if truth is not None:
                    outcome = await self._apply_truth(uow, inv, p, truth, cause="sweeper:recheck")
                if p.status == PaymentStatus.pending:
                    p.check_count += 1
                    p.next_check_at = utcnow() + recheck_delay(p.check_count)
                else:
                    changed += 1
                    log.info("recheck applied", extra={"payment": payment_id, "outcome": outcome})
                await uow.commit()
        return changed

    async def expire_due(self, limit: int = 100) -> int:
        """Expire open invoices past ``expires_at`` (the sweeper calls this)."""
        now = utcnow()
        async with self.db.session() as s:
            due = await repo.due_for_expiry(s, now, limit)
        count = 0
        for invoice_id in due:
            checkouts: list[tuple[str, str]] = []
            async with unit_of_work(self.db, self.bus) as uow:
                inv = await repo.get_invoice(uow.session, invoice_id, lock=True)
                if inv is None or inv.status != InvoiceStatus.open or inv.expires_at > now:
                    continue
                checkouts = await self._close(uow, inv, InvoiceStatus.expired, "sweeper:expiry")
                await uow.commit()
                count += 1
            await self._cancel_checkouts(checkouts)
        return count

    # ------------------------------------------------------------ citizen flow
    async def invoice_for_token(self, token: str) -> PayLink | None:
        """The invoice behind a pay link: its view (invoice and payments read in one
        transaction, so they agree), and the issuer's name and time zone."""
        if not token or len(token) > 64:
            return None
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice_by_token(uow.session, token)
            if inv is None:
                return None
            svc = await repo.get_service(uow.session, inv.service_id)
            view = (await self._render(uow, [inv]))[0]
            return PayLink(view, svc.name if svc else "", svc.timezone if svc else "Europe/Paris")

    async def start_checkout(self, token: str, locale: str) -> str:
        """Create a payment and a PSP checkout for the invoice; returns the PSP's URL."""
        now = utcnow()
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice_by_token(uow.session, token)
            if inv is None:
                raise NotFound("invoice")
            if inv.status != InvoiceStatus.open or inv.expires_at <= now:
                raise Conflict(
                    "invoice_not_payable", f"This invoice is {inv.status} and cannot be paid."
                )
            svc = await repo.get_service(uow.session, inv.service_id)
            lines = (await repo.lines_of(uow.session, [inv.id]))[inv.id]
            pay = Payment(
                id=new_id("pay"),
                invoice_id=inv.id,
                service_id=inv.service_id,
                provider=self.provider.name,
                status=PaymentStatus.pending,
                amount=inv.amount_total - inv.amount_paid,
                currency=inv.currency,
                next_check_at=now + dt.timedelta(minutes=5),
                created_at=now,
                updated_at=now,
            )
            uow.session.add(pay)
            self._audit(
                uow,
                inv,
                obj="payment",
                payment=pay,
                from_status=None,
                to_status="pending",
                cause="citizen:checkout",
            )
            request = CheckoutRequest(
                payment_id=pay.id,
                invoice_id=inv.id,
                invoice_number=inv.number,
                service_name=svc.name if svc else "",
                description=inv.description,
                amount=pay.amount,
                currency=inv.currency,
                lines=tuple((x.description, x.quantity, x.unit_amount) for x in lines),
                expires_at=inv.expires_at,
                locale=locale,
            )
            await uow.commit()  # the payment exists before the PSP can send an event about it
        base = f"{self.config.base_url}/pay/{token}"
        urls = CheckoutUrls(
            success_url=f"{base}/return?payment={pay.id}", cancel_url=f"{base}?canceled=1"
        )
        try:
            session = await self.provider.create_checkout(request, urls)
        except ProviderError as exc:
            async with unit_of_work(self.db, self.bus) as uow:
                p = await repo.get_payment(uow.session, pay.id, lock=True)
                if p is not None and p.status == PaymentStatus.pending:
                    p.status, p.failure_code, p.failure_message = (
                        PaymentStatus.failed,
                        "provider_unavailable",
                        exc.kind,
                    )
                    p.updated_at = utcnow()
                    await uow.commit()
            raise ApiError(
                502,
                "provider_unavailable",
                "The payment provider is not reachable; please try again.",
            ) from None
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, pay.id, lock=True)
            assert p is not None
            p.checkout_id, p.checkout_url, p.updated_at = session.id, session.url, utcnow()
            await uow.commit()
        return session.url

    # ------------------------------------------------------------- PSP events
    async def knows_payment(self, event: ProviderEvent) -> bool:
        async with self.db.session() as s:
            p = await repo.find_payment_for_provider(
                s, event.provider, payment_ref=event.payment_ref, checkout_id=event.checkout_id
            )
            return p is not None

    async def fetch_truth(self, event: ProviderEvent) -> ProviderPayment | ProviderRefund | None:
        """Re-read the object from the PSP (outside any transaction): events can arrive
        late, twice or out of order; the PSP's current state cannot."""
        provider = self.providers.get(event.provider)
        if event.type in PAYMENT_EVENTS:
            ref = event.checkout_id or event.provider_payment_id
            return await provider.retrieve_payment(ref) if ref else None
        if event.type == EVENT_REFUND_UPDATED and event.data.get("refund_id"):
            return await provider.retrieve_refund(str(event.data["refund_id"]))
        return None

    async def apply_provider_event(
        self, uow: UnitOfWork, event: ProviderEvent, truth: ProviderPayment | ProviderRefund | None
    ) -> str:
        """Apply one PSP event inside the caller's unit of work; returns what happened."""
        cause = f"psp:{event.id}"
        if event.type == EVENT_REFUND_UPDATED:
            refund_truth = truth if isinstance(truth, ProviderRefund) else None
            return await self.refunds.apply_event(
                uow, event.provider, dict(event.data), refund_truth, cause
            )
        if event.type in (EVENT_DISPUTE_OPENED, EVENT_DISPUTE_CLOSED):
            return await self._apply_dispute(uow, event, cause)
        if event.type in (EVENT_PAYOUT_PAID, EVENT_PAYOUT_FAILED):
            return await accounting.payout(
                uow.session, event.provider, event.type, dict(event.data), self.config.bank_account
            )
        if event.type not in PAYMENT_EVENTS:
            return f"ignored: {event.raw_type}"
        payment_truth = truth if isinstance(truth, ProviderPayment) else None
        s = uow.session
        p = await repo.find_payment_for_provider(
            s,
            event.provider,
            payment_ref=event.payment_ref or (payment_truth.payment_ref if payment_truth else None),
            checkout_id=event.checkout_id or (payment_truth.checkout_id if payment_truth else None),
        )
        if p is None:
            return "ignored: unknown payment"
        inv = await repo.get_invoice(
            s, p.invoice_id, lock=True
        )  # lock order: invoice, then payment
        assert inv is not None
        p = await repo.get_payment(s, p.id, lock=True)
        assert p is not None
        if payment_truth is None:
            return f"ignored: {event.type}"
        return await self._apply_truth(uow, inv, p, payment_truth, cause=cause)

    async def _apply_dispute(self, uow: UnitOfWork, event: ProviderEvent, cause: str) -> str:
        data = event.data
        ppid = str(data.get("provider_payment_id") or "")
        payment = (
            await repo.payment_by_provider_id(uow.session, event.provider, ppid) if ppid else None
        )
        if payment is None:
            return "ignored: dispute on an unknown payment"
        inv = await repo.get_invoice(uow.session, payment.invoice_id, lock=True)
        assert inv is not None
        dispute_id = str(data.get("dispute_id") or event.id)
        amount = int(data.get("amount") or payment.amount)
        if event.type == EVENT_DISPUTE_OPENED:
            if not can_invoice(InvoiceStatus(inv.status), InvoiceStatus.disputed):
                return f"ignored: a {inv.status} invoice cannot be disputed"
            self._audit(
                uow,
                inv,
                obj="invoice",
                from_status=inv.status,
                to_status="disputed",
                cause=cause,
                note=dispute_id,
            )
            inv.status, inv.updated_at = InvoiceStatus.disputed, utcnow()
            await accounting.dispute(uow.session, inv, payment, dispute_id, amount, opened=True)
            uow.publish(
                InvoiceDisputed(
                    inv.id, inv.service_id, amount, payment.currency, cause, payment.id, dispute_id
                )
            )
            return "invoice disputed"
        if inv.status != InvoiceStatus.disputed:
            return f"ignored: invoice is {inv.status}, not disputed"
        won = data.get("status") == "won"
        if not won:
            target = InvoiceStatus.refunded
        elif inv.amount_refunded:
            target = InvoiceStatus.partially_refunded  # refunded in part before the dispute
        else:
            target = InvoiceStatus.paid
        self._audit(
            uow,
            inv,
            obj="invoice",
            from_status=inv.status,
            to_status=target,
            cause=cause,
            note=dispute_id,
        )
        inv.status, inv.updated_at = target, utcnow()
        if won:
            await accounting.dispute(uow.session, inv, payment, dispute_id, amount, opened=False)
        else:
            inv.amount_refunded = inv.amount_paid
        uow.publish(
            DisputeClosed(
                inv.id, inv.service_id, amount, payment.currency, cause, payment.id, dispute_id, won
            )
        )
        return f"dispute {'won' if won else 'lost'}; invoice {target}"

    async def _apply_truth(
        self, uow: UnitOfWork, inv: Invoice, p: Payment, truth: ProviderPayment, *, cause: str
    ) -> str:
        now = utcnow()
        target = PaymentStatus(truth.status)
        if target == PaymentStatus(p.status) or target == PaymentStatus.pending:
            return f"unchanged: payment {p.status}"
        if not can_payment(PaymentStatus(p.status), target):
            return f"ignored: payment {p.status} cannot become {target}"
        if truth.amount != p.amount or truth.currency != p.currency:
            # never trust a mismatching amount: leave it for a human (and reconciliation)
            raise PspMismatchError(
                f"PSP reports {truth.amount} {truth.currency} for {p.amount} {p.currency}"
            )
        note = "PSP's later word wins" if p.status != PaymentStatus.pending else None
        self._audit(
            uow,
            inv,
            obj="payment",
            payment=p,
            from_status=p.status,
            to_status=target,
            cause=cause,
            note=note,
        )
        p.status, p.updated_at, p.next_check_at = target, now, None
        p.provider_payment_id = truth.provider_payment_id or p.provider_payment_id
        p.card_brand, p.card_last4 = (
            truth.card_brand or p.card_brand,
            truth.card_last4 or p.card_last4,
        )
        if target == PaymentStatus.succeeded:
            p.fee, p.succeeded_at = truth.fee, now
            p.failure_code = p.failure_message = None
            if inv.status == InvoiceStatus.open:
                self._audit(
                    uow, inv, obj="invoice", from_status=inv.status, to_status="paid", cause=cause
                )
                inv.status, inv.amount_paid, inv.paid_at, inv.updated_at = (
                    InvoiceStatus.paid,
                    p.amount,
                    now,
                    now,
                )
                await accounting.payment_succeeded(
                    uow.session, inv, p, await self._slug(uow, inv), now
                )
                uow.publish(
                    InvoicePaid(
                        inv.id, inv.service_id, p.amount, p.currency, cause, p.id, p.provider, p.fee
                    )
                )
                return "invoice paid"
            p.is_overpayment = True
            if self.config.auto_refund_overpayments:
                await self.refunds.reserve_overpayment_refund(uow, inv, p)
            await accounting.payment_succeeded(uow.session, inv, p, await self._slug(uow, inv), now)
            uow.publish(
                OverpaymentDetected(
                    inv.id, inv.service_id, p.amount, p.currency, cause, p.id, p.provider
                )
            )
            return f"overpayment: invoice already {inv.status}"
        if target == PaymentStatus.failed:
            p.failure_code, p.failure_message = truth.failure_code, truth.failure_message
            uow.publish(
                PaymentFailed(
                    inv.id, inv.service_id, p.amount, p.currency, cause, p.id, p.failure_code
                )
            )
            return "payment failed"
        return f"payment {target}"


def _reference_used() -> Conflict:
    return Conflict(
        "reference_already_used", "An invoice with this reference already exists.", "reference"
    )


class PspMismatchError(RuntimeError):
    """The PSP's view of a payment contradicts regie's: never applied automatically."""
