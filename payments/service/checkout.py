"""The citizen's side: the invoice behind a pay link, and the checkout at the PSP."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from payments import repository as repo
from payments.models import Payment
from payments.providers.base import CheckoutRequest, CheckoutUrls, ProviderError
from payments.providers.registry import ProviderRegistry
from payments.schemas import InvoiceOut
from payments.service.views import Views
from payments.states import InvoiceStatus, PaymentStatus
from payments.transitions import record_new, transition
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, Conflict, NotFound
from regie.kit.events import EventBus
from regie.kit.ids import new_id
from regie.kit.uow import unit_of_work


@dataclass(frozen=True)
class PayLink:
    invoice: InvoiceOut
    issuer: str
    timezone: str


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
        """The invoice behind a pay link: its view (invoice and payments read in one
        transaction, so they agree), and the issuer's name and time zone."""
        if not token or len(token) > 64:
            return None
        async with unit_of_work(self.db, self.bus) as uow:
            inv = await repo.get_invoice_by_token(uow.session, token)
            if inv is None:
                return None
            svc = await repo.get_service(uow.session, inv.service_id)
            view = (await self.views.render(uow, [inv]))[0]
            return PayLink(view, svc.name if svc else "", svc.timezone if svc else "Europe/Paris")

    async def start_checkout(self, token: str, locale: str) -> str:
        """Create a payment and a PSP checkout for the invoice; returns the PSP's URL.

        New checkouts go to the default provider; everything later about the payment goes
        to the provider recorded on it."""
        provider = self.providers.default
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
                provider=provider.name,
                status=PaymentStatus.pending,
                amount=inv.amount_total - inv.amount_paid,
                currency=inv.currency,
                next_check_at=now + dt.timedelta(minutes=5),
                created_at=now,
                updated_at=now,
            )
            uow.session.add(pay)
            record_new(uow, pay, invoice=inv, cause="citizen:checkout")
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
        base = f"{self.base_url}/pay/{token}"
        urls = CheckoutUrls(
            success_url=f"{base}/return?payment={pay.id}", cancel_url=f"{base}?canceled=1"
        )
        try:
            session = await provider.create_checkout(request, urls)
        except ProviderError as exc:
            await self._unreachable(pay.id, exc)
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

    async def _unreachable(self, payment_id: str, exc: ProviderError) -> None:
        """The PSP never heard of the payment: it is recorded as failed (no event; the
        citizen simply tries again) and the invoice stays open."""
        async with unit_of_work(self.db, self.bus) as uow:
            p = await repo.get_payment(uow.session, payment_id, lock=True)
            if p is None or p.status != PaymentStatus.pending:
                return
            # (read for its audit trail only: the invoice does not change, so it is not locked)
            inv = await repo.get_invoice(uow.session, p.invoice_id)
            assert inv is not None
            p.failure_code, p.failure_message = "provider_unavailable", exc.kind
            transition(
                uow,
                p,
                PaymentStatus.failed,
                invoice=inv,
                cause="citizen:checkout",
                note="provider_unavailable",
            )
            await uow.commit()
