"""The composition root: builds the app from ``Settings`` and wires the packages together."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from importlib.resources import files

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from ledger import router as ledger_router
from ledger.service import LedgerService
from payments import pages as payment_pages
from payments import router as payments_router
from payments.events import InvoicePaid, RefundSucceeded
from payments.providers.adapters import ADAPTERS, enabled_providers
from payments.providers.context import BuildContext
from payments.providers.registry import ProviderRegistry
from payments.providers.simulator import router as simulator_router
from payments.service import PaymentsConfig, PaymentsService
from receipts import router as receipts_router
from receipts.service import ReceiptsService
from regie.kit import __version__
from regie.kit.database import Database
from regie.kit.errors import install_error_handlers
from regie.kit.events import EventBus
from regie.kit.metrics import Metrics, MetricsMiddleware
from regie.kit.middleware import BodyLimitMiddleware, RequestIdMiddleware
from regie.kit.settings import Settings
from regie.kit.web import build_environment
from regie.worker import Job, Worker
from webhooks import notifications_router  # --- notifications ---
from webhooks import router as webhooks_router
from webhooks.notifications_service import NOTIFIED_EVENTS, NotificationsService  # notifications
from webhooks.service import WebhookService

log = logging.getLogger("regie.app")


@dataclass
class Services:
    db: Database
    bus: EventBus
    payments: PaymentsService
    webhooks: WebhookService
    ledger: LedgerService
    receipts: ReceiptsService
    clients: list[httpx.AsyncClient]
    notifications: NotificationsService  # --- notifications ---

    async def close(self) -> None:
        await self.notifications.close()  # --- notifications: let a delivery run finish ---
        for client in self.clients:
            await client.aclose()
        await self.db.dispose()


def build_providers(
    settings: Settings, db: Database, app: FastAPI | None
) -> tuple[ProviderRegistry, list[httpx.AsyncClient]]:
    """The registry of PSPs: the default one (``REGIE_PSP``), plus Stripe whenever its key
    is configured, so that payments it took stay refundable after the default changes."""
    ctx = BuildContext(settings, db, app)
    providers = [ADAPTERS[name](ctx) for name in enabled_providers(settings)]
    return ProviderRegistry(providers, default=settings.psp), ctx.clients


def build_bus(receipts: ReceiptsService) -> EventBus:
    """Register the subscribers of the domain events: they run inside the publisher's
    transaction, so a receipt number is allocated in the transaction that marks the
    invoice paid."""
    bus = EventBus()
    bus.subscribe(InvoicePaid, receipts.on_invoice_paid)
    bus.subscribe(RefundSucceeded, receipts.on_refund_succeeded)
    return bus


def build_services(settings: Settings, app: FastAPI | None = None) -> Services:
    db = Database(settings.database_url)
    receipts = ReceiptsService(db, secret=settings.secret_key, base_url=settings.base_url)
    bus = build_bus(receipts)
    providers, clients = build_providers(settings, db, app)
    payments = PaymentsService(
        db,
        bus,
        providers,
        PaymentsConfig(
            base_url=settings.base_url,
            max_amount=settings.max_amount,
            default_ttl=dt.timedelta(days=settings.default_invoice_ttl_days),
            auto_refund_overpayments=settings.auto_refund_overpayments,
            bank_account=settings.bank_account,
        ),
    )
    webhooks = WebhookService(db, payments, max_attempts=settings.worker_max_attempts)
    # --- notifications: outbox rows in the publisher's transaction; no redirects followed,
    # no proxy from the environment (the SSRF checks pin the address they vetted) ---
    notify_client = httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    clients.append(notify_client)
    notifications = NotificationsService(
        db, payments, notify_client, production=settings.env == "production"
    )
    for event_type in NOTIFIED_EVENTS:
        bus.subscribe(event_type, notifications.on_invoice_event)
    # --- end notifications ---
    return Services(
        db, bus, payments, webhooks, LedgerService(db), receipts, clients, notifications
    )


def build_worker(settings: Settings, services: Services) -> Worker:
    jobs: list[Job] = [
        Job("expire-invoices", dt.timedelta(seconds=30), services.payments.expire_due),
        Job("seal-ledger", dt.timedelta(seconds=2), services.ledger.seal),
        Job("submit-refunds", dt.timedelta(seconds=5), services.payments.refunds.retry_due),
        Job(
            "recheck-pending-payments", dt.timedelta(seconds=60), services.payments.recheck_pending
        ),
        Job("catch-up-psp-events", dt.timedelta(minutes=10), services.webhooks.catch_up),
        # --- notifications ---
        Job("deliver-notifications", dt.timedelta(seconds=2), services.notifications.pump),
    ]
    for provider in services.payments.providers:
        redeliver = getattr(provider, "redeliver_pending", None)
        if redeliver is not None:
            jobs.append(Job(f"{provider.name}-redeliver", dt.timedelta(seconds=30), redeliver))
    return Worker(
        services.webhooks.process_batch,
        poll_seconds=settings.worker_poll_seconds,
        batch_size=settings.worker_batch_size,
        jobs=jobs,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, app)
        app.state.services = services
        app.state.db, app.state.bus = services.db, services.bus
        app.state.payments, app.state.webhooks = services.payments, services.webhooks
        app.state.ledger = services.ledger
        app.state.receipts = services.receipts
        app.state.notifications = services.notifications  # --- notifications ---
        worker_task = None
        if settings.run_worker_in_process:
            worker = build_worker(settings, services)
            app.state.worker = worker
            worker_task = asyncio.create_task(worker.run(), name="regie-worker")
        try:
            yield
        finally:
            if worker_task is not None:
                app.state.worker.stop()
                with suppress(asyncio.CancelledError):
                    await asyncio.wait_for(worker_task, timeout=10)
            await services.close()

    app = FastAPI(
        title="regie",
        version=__version__,
        description="Online payments and invoicing for public bodies.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.templates = build_environment()
    app.state.metrics = Metrics()
    install_error_handlers(app)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        webhook_limit=settings.max_webhook_body_bytes,
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(payments_router.router)
    app.include_router(webhooks_router.router)
    app.include_router(notifications_router.router)  # --- notifications ---
    app.include_router(ledger_router.router)
    app.include_router(receipts_router.api)
    app.include_router(receipts_router.pages)
    app.include_router(payment_pages.router)
    if settings.psp == "simulator":
        app.include_router(simulator_router.router)
    app.mount("/static", StaticFiles(directory=str(files("regie.kit") / "static")), name="static")

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="Readiness (database reachable)")
    async def readyz(request: Request) -> JSONResponse:
        try:
            await asyncio.wait_for(request.app.state.db.ping(), timeout=2)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return JSONResponse(
                {
                    "error": {
                        "type": "service_unavailable",
                        "code": "database_unavailable",
                        "message": "The database is not reachable.",
                    }
                },
                status_code=503,
            )
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
    )
    async def metrics(request: Request) -> PlainTextResponse:
        text = await request.app.state.metrics.render(request.app.state.db)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app
