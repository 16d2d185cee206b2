"""The composition root's services: every package's service built from ``Settings`` and
wired together (``Services.wirings``: the packages' jobs, inbox drains, event
subscriptions and gauges, ``regie.kit.wiring``), and the worker that runs their loops.
``regie.app`` builds the web application on them; the CLI's commands build them alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from ledger import wiring as ledger_wiring
from ledger.service import LedgerService
from payments import wiring as payments_wiring
from payments.providers.adapters import ADAPTERS, enabled_providers
from payments.providers.context import BuildContext
from payments.providers.registry import ProviderRegistry
from payments.service import PaymentsConfig, PaymentsService
from receipts import repository as receipts_repo
from receipts import wiring as receipts_wiring
from receipts.service import ReceiptsService
from reconciliation.service import ReconciliationService, ReconConfig
from regie import maintenance
from regie.kit.database import Database
from regie.kit.events import EventBus
from regie.kit.sealing import Sealer
from regie.kit.settings import Settings
from regie.kit.wiring import Wiring
from regie.worker import Worker
from webhooks.inbound import wiring as inbound_wiring
from webhooks.inbound.apply import EventApplier
from webhooks.inbound.intake import EventIntake
from webhooks.outbound import wiring as outbound_wiring
from webhooks.outbound.delivery import OutboxPump, notification_client
from webhooks.outbound.guard import UrlGuard
from webhooks.outbound.service import NotificationsService


@dataclass
class Services:
    db: Database
    bus: EventBus
    payments: PaymentsService
    ledger: LedgerService
    receipts: ReceiptsService
    intake: EventIntake
    applier: EventApplier
    notifications: NotificationsService
    outbox: OutboxPump
    reconciliation: ReconciliationService
    clients: list[httpx.AsyncClient]
    settings: Settings

    def wirings(self) -> list[Wiring]:
        """What each package registers (``regie.kit.wiring``); a new package adds its line.
        The subscribers of one event run in this order (receipts, then the outbox)."""
        return [
            payments_wiring.wire(self.payments),
            ledger_wiring.wire(self.ledger),
            receipts_wiring.wire(self.receipts),
            inbound_wiring.wire(self.intake, self.applier),
            outbound_wiring.wire(self.notifications, self.outbox),
            maintenance.wire(self.db, self.settings),
        ]

    async def close(self) -> None:
        await self.outbox.close()  # let a delivery run finish
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


def build_services(settings: Settings, app: FastAPI | None = None) -> Services:
    db = Database(settings.database_url)
    bus = EventBus()
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
    receipts = ReceiptsService(
        db,
        secret=settings.secret_key,
        base_url=settings.base_url,
        vat_article=settings.vat_exemption_article,
        render_lease=dt.timedelta(seconds=settings.worker_lease_seconds),
    )
    payments.views.credit_notes = receipts_repo.credit_note_refs  # refunds show their credit notes
    # the development exception (loopback, http) is for a developer's machine, never a
    # server on https (a staging server left in development), like HSTS and Secure cookies
    guard = UrlGuard(production=settings.https)
    sealer = Sealer(settings.sealing_keys)
    notify_client = notification_client()
    clients.append(notify_client)
    services = Services(
        db=db,
        bus=bus,
        payments=payments,
        ledger=LedgerService(db),
        receipts=receipts,
        intake=EventIntake(db, payments),
        applier=EventApplier(
            db,
            payments,
            max_attempts=settings.worker_max_attempts,
            lease=dt.timedelta(seconds=settings.worker_lease_seconds),
        ),
        notifications=NotificationsService(db, payments, guard, sealer),
        outbox=OutboxPump(
            db,
            notify_client,
            guard,
            sealer,
            lease=dt.timedelta(seconds=settings.notification_lease_seconds),
        ),
        reconciliation=ReconciliationService(
            db,
            providers,
            ReconConfig.from_settings(settings),
        ),
        clients=clients,
        settings=settings,
    )
    services.reconciliation.healer = _healer(services)
    # subscribers run inside the publisher's transaction (see regie.kit.uow)
    for wiring in services.wirings():
        for event_type, handler in wiring.subscriptions:
            bus.subscribe(event_type, handler)
    return services


def _healer(services: Services) -> Callable[[dt.datetime], Awaitable[int]]:
    """Reconciliation's healing: the PSP's events since an instant, through the inbox."""

    async def heal(since: dt.datetime) -> int:
        stored = await services.intake.catch_up_from(since)
        while await services.applier.process_batch(100):
            pass
        return stored

    return heal


def build_worker(settings: Settings, services: Services) -> Worker:
    wirings = services.wirings()
    return Worker(
        [drain for wiring in wirings for drain in wiring.drains],
        poll_seconds=settings.worker_poll_seconds,
        batch_size=settings.worker_batch_size,
        jobs=[job for wiring in wirings for job in wiring.jobs],
        heartbeat=settings.worker_heartbeat_file,
    )
