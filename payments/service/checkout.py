"""The citizen's side: the invoice behind a pay link, and the checkout at the PSP.

Pressing Pay closes at the PSP the checkouts earlier presses opened for the same invoice
(so that two tabs cannot both pay), records a pending payment, then opens a new checkout.
The PSP is called outside any transaction; each answer is applied in a short one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from payments import repository as repo
from payments.models import Invoice, Payment
from payments.providers.base import (
    CHECKOUT_ID_PLACEHOLDER,
    CheckoutRequest,
    CheckoutUrls,
    ProviderError,
)
from payments.providers.registry import ProviderRegistry
from payments.schemas import InvoiceOut, RefundOut
from payments.service.views import Views, refund_out
from payments.states import InvoiceStatus, PaymentStatus
from payments.transitions import record_new, transition
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
from regie.kit.events import EventBus
from regie.kit.ids import new_id
from regie.kit.tenancy import Contact, contact_of
from regie.kit.uow import unit_of_work

log = logging.getLogger("regie.payments")

# how long the Pay button waits for the PSP to close the checkouts earlier presses opened
# (creating the new one has its own budget, in the adapter)
CLOSE_BUDGET = 10.0
CAUSE = "citizen:checkout"


@dataclass(frozen=True)
class PayLink:
    invoice: InvoiceOut
    issuer: str
    timezone: str
    # after this, less time is left before the invoice expires than the PSP's shortest
    # checkout lasts: a checkout would outlive the invoice, so Pay is refused
    pay_until: dt.datetime
    min_checkout_life: dt.timedelta
    # the invoice's refunds (the return page of a duplicate payment tells how its own goes)
    refunds: tuple[RefundOut, ...] = ()
    # how to reach the service (the pages that send the citizen to it show it)
    contact: Contact | None = None


class PaymentInProgress(Conflict):
    """An earlier checkout of this invoice was completed by the payer (paid, or a delayed
    method on its way): no second one is opened. The citizen is shown that payment."""

    def __init__(self, payment_id: str, checkout_id: str) -> None:
        super().__init__(
            "payment_in_progress", "A payment of this invoice is already being processed."
        )
        self.payment_id = payment_id
        self.checkout_id = checkout_id


@dataclass(frozen=True)
class _Earlier:
    payment_id: str
    provider: str
    checkout_id: str


class CheckoutService:
    def __init__(
        self, db: Database, bus: EventBus, providers: ProviderRegistry, base_url: str, views: Views
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.base_url = base_url
        self.views = views

    async def invoice_for_token(self, token: str) -> PayLink | None:
        """The invoice behind a pay link: its view (invoice, payments and refunds read in
        one transaction, so they agree), the issuer's name and time zone, and until when a
        checkout can still be opened for it."""
        if not token or len(token) > 64:
            return None
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice_by_token(uow.session, token)
            if inv is None:
                return None
            svc = await repo.get_service(uow.session, inv.service_id)
            view = (await self.views.render(uow, [inv]))[0]
            refunds = (await repo.refunds_of(uow.session, [inv.id]))[inv.id]
            life = self.providers.default.min_checkout_life
            return PayLink(
                view,
                svc.name if svc else "",
                svc.timezone if svc else "Europe/Paris",
                inv.expires_at - life,
                life,
                tuple(refund_out(r) for r in refunds),
                contact_of(svc),
            )

    async def start_checkout(self, token: str, locale: str) -> str:
        """Create a payment and a PSP checkout for the invoice; returns the PSP's URL.

        The checkouts earlier presses opened are closed first. New checkouts go to the
        default provider; everything later about the payment goes to the provider
        recorded on it."""
        provider = self.providers.default
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice_by_token(uow.session, token)
            _check_payable(inv, provider.min_checkout_life)
            assert inv is not None
            earlier = [
                _Earlier(p.id, p.provider, p.checkout_id)
                for p in await repo.pending_payments_of(uow.session, inv.id)
                if p.checkout_id
            ]
        for old in earlier:
            await self._close_earlier(old)
        now = utcnow()
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice_by_token(uow.session, token, lock=True)
            _check_payable(inv, provider.min_checkout_life)
            assert inv is not None
            svc = await repo.get_service(uow.session, inv.service_id)
            lines = (await repo.lines_of(uow.session, [inv.id]))[inv.id]
            pay = Payment(
                id=new_id("pay"),
                invoice_id=inv.id,
                service_id=inv.service_id,
                provider=provider.name,
                status=PaymentStatus.pending,
                amount=inv.amount_total - inv.amount_paid,
                currency=inv.currency,
                next_check_at=now + dt.timedelta(minutes=5),
                created_at=now,
                updated_at=now,
            )
            uow.session.add(pay)
            record_new(uow, pay, invoice=inv, cause=CAUSE)
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
                payer_email=inv.payer_email,
                statement_descriptor_suffix=svc.statement_descriptor_suffix if svc else None,
            )
            await uow.commit()  # the payment exists before the PSP can send an event about it
        base = f"{self.base_url}/pay/{token}"
        urls = CheckoutUrls(
            # the PSP names its checkout in the return address: the page asks about it
            success_url=f"{base}/return?payment={pay.id}&session={CHECKOUT_ID_PLACEHOLDER}",
            cancel_url=f"{base}?canceled=1",
        )
        try:
            session = await provider.create_checkout(request, urls)
        except ProviderError as exc:
            await self._failed(pay.id, exc)
            raise _citizen_error(exc, pay.id) from None
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, pay.id, lock=True)
            assert p is not None
            p.checkout_id, p.checkout_url, p.updated_at = session.id, session.url, utcnow()
            # the invoice was paid (another tab) while this checkout was being opened: the
            # worker closes it now (``closing``), and the citizen is not sent to it
            paid_meanwhile = p.close_checkout_at is not None
            if paid_meanwhile:
                p.close_checkout_at = utcnow()
            # the invoice was canceled (or expired) meanwhile: its closing canceled this
            # payment while it had no checkout id yet, so the checkout is closed here
            closed_meanwhile = p.status in (PaymentStatus.canceled, PaymentStatus.expired)
            await uow.commit()
        if paid_meanwhile:
            raise Conflict("invoice_not_payable", "This invoice was paid meanwhile.")
        if closed_meanwhile:
            await self._close_opened(provider.name, session.id, pay.id)
            raise Conflict("invoice_not_payable", f"This invoice was {p.status} meanwhile.")
        return session.url

    async def _close_opened(self, provider_name: str, checkout_id: str, payment_id: str) -> None:
        """Close at its PSP a checkout opened for an invoice closed meanwhile. As for the
        invoice's own closing (``InvoiceService._cancel_checkouts``): if the PSP does not
        answer, the checkout still ends with the invoice's expiry, and a payment that slips
        through is an overpayment, given back."""
        try:
            async with asyncio.timeout(CLOSE_BUDGET):
                await self.providers.get(provider_name).cancel_checkout(checkout_id)
        except (ProviderError, TimeoutError) as exc:
            kind = exc.kind if isinstance(exc, ProviderError) else "timeout"
            log.warning(
                "could not cancel the checkout of an invoice closed meanwhile",
                extra={"checkout": checkout_id, "payment": payment_id, "kind": kind},
            )

    async def _close_earlier(self, old: _Earlier) -> None:
        """Close at its PSP a checkout an earlier press opened, and record its payment as
        superseded. If the payer completed it (paid, or a delayed method on its way), no
        new checkout is opened; if the PSP cannot say, neither: both could be paid."""
        provider = self.providers.get(old.provider)
        try:
            async with asyncio.timeout(CLOSE_BUDGET):
                closed = await provider.cancel_checkout(old.checkout_id)
        except TimeoutError:
            error = ProviderError("unavailable", "no answer", retryable=True, code="timeout")
            raise _citizen_error(error, old.payment_id) from None
        except ProviderError as exc:
            if exc.kind != "not_found":
                raise _citizen_error(exc, old.payment_id) from None
            closed = True  # the PSP has no such checkout: nothing can be paid through it
        if not closed:
            raise PaymentInProgress(old.payment_id, old.checkout_id)
        await self._cancel(old.payment_id, "superseded: the citizen pressed Pay again")

    async def _cancel(self, payment_id: str, note: str) -> None:
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id)
            if p is None or p.status != PaymentStatus.pending:
                return
            inv = await repo.get_invoice(uow.session, p.invoice_id, lock=True)
            p = await repo.get_payment(uow.session, payment_id, lock=True)
            assert inv is not None and p is not None
            if p.status != PaymentStatus.pending:
                return
            transition(uow, p, PaymentStatus.canceled, invoice=inv, cause=CAUSE, note=note)
            p.next_check_at = None
            await uow.commit()

    async def _failed(self, payment_id: str, exc: ProviderError) -> None:
        """The PSP opened no checkout: the payment is recorded as failed (no event; the
        citizen may try again) and the invoice stays open."""
        code = "provider_unavailable" if exc.unreachable else "provider_refused"
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id, lock=True)
            if p is None or p.status != PaymentStatus.pending:
                return
            # (read for its audit trail only: the invoice does not change, so it is not locked)
            inv = await repo.get_invoice(uow.session, p.invoice_id)
            assert inv is not None
            p.failure_code = code
            p.failure_message = f"{exc.kind} ({exc.code})" if exc.code else exc.kind
            transition(uow, p, PaymentStatus.failed, invoice=inv, cause=CAUSE, note=code)
            await uow.commit()


def _check_payable(inv: Invoice | None, min_life: dt.timedelta) -> None:
    """Raise unless the invoice can be paid now, by a checkout that ends with it."""
    now = utcnow()
    if inv is None:
        raise NotFound("invoice")
    if inv.status != InvoiceStatus.open or inv.expires_at <= now:
        raise Conflict("invoice_not_payable", f"This invoice is {inv.status} and cannot be paid.")
    if inv.expires_at - now < min_life:
        raise ApiError(
            409,
            "invoice_expires_too_soon",
            "This invoice expires before the payment provider's shortest checkout would "
            "end; it can no longer be paid online.",
        )


def _citizen_error(exc: ProviderError, payment_id: str) -> ApiError:
    """What the citizen is told, and the log says: the PSP could not be reached (trying
    again later may work), or it refused the request (regie's or the account's problem:
    an error, and trying again will not help)."""
    extra = {"payment": payment_id, "kind": exc.kind, "code": exc.code}
    if exc.unreachable:
        log.warning("payment provider unreachable at checkout", extra=extra)
        return ApiError(
            502,
            "provider_unavailable",
            "The payment provider is not reachable; please try again.",
        )
    log.error("checkout refused by the payment provider", extra=extra)
    return ApiError(502, "provider_refused", "The payment provider refused to open the payment.")
