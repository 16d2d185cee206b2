"""``PaymentsService``: the one object the rest of regie holds (see docs/architecture.md).

It builds the sub-domain services and hands each its dependencies; routers, pages, the
webhook intake and the worker call it. It holds no logic of its own.
"""

from __future__ import annotations

from typing import Any

from payments.batch_schemas import InvoiceBatchOut
from payments.providers.base import PaymentProvider, ProviderEvent, ProviderTruth
from payments.providers.registry import ProviderRegistry
from payments.schemas import InvoiceCreate, InvoiceList, InvoiceOut, PaymentOut
from payments.service.batches import BatchService, Progress
from payments.service.checkout import CheckoutService, PayLink
from payments.service.closing import CheckoutCloser
from payments.service.config import PaymentsConfig
from payments.service.invoices import InvoiceService
from payments.service.psp_events import PspEvents
from payments.service.refunds import RefundService
from payments.service.search import InvoiceSearch
from payments.service.views import Views
from regie.kit.auth import Principal
from regie.kit.database import Database
from regie.kit.events import EventBus
from regie.kit.idempotency import Claim
from regie.kit.uow import UnitOfWork


class PaymentsService:
    def __init__(
        self, db: Database, bus: EventBus, providers: ProviderRegistry, config: PaymentsConfig
    ) -> None:
        self.db = db
        self.bus = bus
        self.providers = providers
        self.config = config
        self.views = Views(db, bus, config.base_url)
        self.refunds = RefundService(db, bus, providers, self.views)
        self.invoices = InvoiceService(db, bus, providers, config, self.views)
        self.batches = BatchService(db, bus, self.invoices, self.views)
        self.checkout = CheckoutService(db, bus, providers, config.base_url, self.views)
        self.psp = PspEvents(db, bus, providers, config, self.refunds)
        self.search = InvoiceSearch(db)  # the finance workspace's search and CSV export
        self.closer = CheckoutCloser(db, bus, providers, self.psp)

    @property
    def provider(self) -> PaymentProvider:
        """The default provider: where new checkouts go. Anything about an existing payment
        goes to ``self.providers.get(payment.provider)``."""
        return self.providers.default

    # ----------------------------------------------------------------- reading
    async def invoice_view(self, uow: UnitOfWork, invoice_id: str) -> InvoiceOut:
        return await self.views.invoice_view(uow, invoice_id)

    async def get_invoice(self, principal: Principal, invoice_id: str) -> InvoiceOut:
        return await self.views.get_invoice(principal, invoice_id)

    async def list_invoices(
        self, principal: Principal, *, limit: int, **filters: Any
    ) -> InvoiceList:
        return await self.views.list_invoices(principal, limit=limit, **filters)

    async def get_payment(self, principal: Principal, payment_id: str) -> PaymentOut:
        return await self.views.get_payment(principal, payment_id)

    # ---------------------------------------------------------------- invoices
    async def create_invoice(
        self, principal: Principal, data: InvoiceCreate, claim: Claim | None
    ) -> tuple[int, Any]:
        return await self.invoices.create_invoice(principal, data, claim)

    async def create_batch(
        self,
        principal: Principal,
        items: Any,
        claim: Claim | None,
        *,
        source: str = "api",
        progress: Progress | None = None,
    ) -> tuple[int, Any]:
        """Up to 10,000 invoices, all or none (``payments.service.batches``)."""
        return await self.batches.create_batch(
            principal, items, claim, source=source, progress=progress
        )

    async def get_batch(
        self, principal: Principal, batch_id: str, *, limit: int, starting_after: str | None
    ) -> InvoiceBatchOut:
        return await self.batches.get_batch(
            principal, batch_id, limit=limit, starting_after=starting_after
        )

    async def batch_views(self, uow: UnitOfWork, invoice_ids: Any) -> list[dict[str, Any]]:
        """The JSON views of a batch's invoices inside the caller's transaction."""
        return await self.batches.views_of(uow, invoice_ids)

    async def with_payer(self, body: Any) -> Any:
        return await self.invoices.with_payer(body)

    async def cancel_invoice(
        self, principal: Principal, invoice_id: str, claim: Claim | None, reason: str | None = None
    ) -> tuple[int, Any]:
        return await self.invoices.cancel_invoice(principal, invoice_id, claim, reason)

    async def expire_due(self, limit: int = 100) -> int:
        return await self.invoices.expire_due(limit)

    # ------------------------------------------------------------ citizen flow
    async def invoice_for_token(self, token: str) -> PayLink | None:
        return await self.checkout.invoice_for_token(token)

    async def start_checkout(self, token: str, locale: str) -> str:
        return await self.checkout.start_checkout(token, locale)

    async def confirm_return(self, payment_id: str, checkout_id: str | None = None) -> None:
        await self.psp.confirm_return(payment_id, checkout_id)

    # ------------------------------------------------------------- PSP events
    async def knows_payment(self, event: ProviderEvent) -> bool:
        return await self.psp.knows_payment(event)

    async def is_foreign(self, event: ProviderEvent, *, shared_account: bool) -> bool:
        return await self.psp.is_foreign(event, shared_account=shared_account)

    async def fetch_truth(self, event: ProviderEvent) -> ProviderTruth | None:
        return await self.psp.fetch_truth(event)

    async def apply_provider_event(
        self, uow: UnitOfWork, event: ProviderEvent, truth: ProviderTruth | None
    ) -> str:
        return await self.psp.apply_provider_event(uow, event, truth)

    async def recheck_pending(self, limit: int = 50) -> int:
        return await self.psp.recheck_pending(limit)

    async def close_checkouts_due(self, limit: int = 20) -> int:
        """Close at their PSP the other checkouts of invoices just paid (the worker's
        drain, every tick)."""
        return await self.closer.close_due(limit)
