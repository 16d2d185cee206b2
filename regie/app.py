"""The web application: routes, middleware and the lifespan that starts and stops the
services (``regie.composition`` builds and wires them from ``Settings``)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from ledger import router as ledger_router
from ledger.fec_labels import FecSources
from payments import batch_router as payments_batch_router
from payments import pages as payment_pages
from payments import router as payments_router
from payments.providers.simulator import router as simulator_router
from receipts import router as receipts_router
from receipts.service import ReceiptsService
from reconciliation import router as reconciliation_router
from reconciliation.inputs import RUN_MAX_FILES, STATEMENT_TYPES
from reconciliation.sources.errors import file_name
from regie.composition import Services, build_services, build_worker
from regie.fec import fec_pieces, fec_siren
from regie.finance import decisions as finance_decisions
from regie.finance import errors as finance_errors
from regie.finance import router as finance_router
from regie.finance import runs as finance_runs
from regie.finance import statements as finance_statements
from regie.finance.session import COOKIE as FINANCE_COOKIE
from regie.kit import __version__
from regie.kit.docs import install_docs
from regie.kit.guards import InputGuardMiddleware
from regie.kit.headers import SecurityHeadersMiddleware
from regie.kit.http_errors import document_errors, install_error_handlers
from regie.kit.keycache import KeyCache
from regie.kit.metrics import Metrics, MetricsMiddleware, check_metrics_access
from regie.kit.middleware import BodyLimitMiddleware, RequestIdMiddleware, Upload
from regie.kit.ratelimit import RateLimitMiddleware, RateLimits, document_rate_limits
from regie.kit.settings import Settings
from regie.kit.web import build_environment
from regie.migrate import code_revisions, database_revisions, migrations_pending
from regie.site import router as site_router
from webhooks.inbound import router as inbound_router
from webhooks.outbound import router as outbound_router
from webhooks.outbound.spec import document as document_notifications

log = logging.getLogger("regie.app")

OPENAPI_URL = "/openapi.json"

# the routes whose requests may carry a file up to REGIE_MAX_UPLOAD_BYTES, with the media
# types the file comes in and the credential the request must carry (a key, or the
# workspace's session); every other request gets max_body_bytes
_KEY = b"authorization"
UPLOADS = {
    "/v1/bank-statements": Upload(("multipart/form-data", *STATEMENT_TYPES), header=_KEY),
    "/v1/reconciliations": Upload(("multipart/form-data",), header=_KEY, max_files=RUN_MAX_FILES),
    "/finance/bank-statements": Upload(("multipart/form-data",), cookie=FINANCE_COOKIE),
    "/finance/runs": Upload(("multipart/form-data",), cookie=FINANCE_COOKIE),
}
# paths whose requests may be as large as REGIE_MAX_BATCH_BODY_BYTES (a batch of invoices)
BATCH_PATHS = ("/v1/invoice-batches",)

# the public pages, whose requests count against their client address (regie.kit.ratelimit):
# pay links (and their receipts), receipt verification, the finance login, the simulator's
# card page; and the API's receipt verification, the one /v1 route without a key
PUBLIC_PREFIXES = ("/pay/", "/receipts/verify/", "/finance/login", "/_simulator/checkout/")


def is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or (
        path.startswith("/v1/receipts/") and path.endswith("/verify")
    )


def _not_ready(code: str, message: str) -> JSONResponse:
    body = {"error": {"type": "service_unavailable", "code": code, "message": message}}
    return JSONResponse(body, status_code=503)


def receipt_of(receipts: ReceiptsService) -> payment_pages.ReceiptOf:
    """The citizen's pages name and link an invoice's receipt through this."""

    async def find(invoice_id: str) -> payment_pages.ReceiptRef | None:
        found = await receipts.number_of(invoice_id)
        return payment_pages.ReceiptRef(*found) if found is not None else None

    return find


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.check_production()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, app)
        app.state.services = services
        app.state.db, app.state.bus = services.db, services.bus
        app.state.payments, app.state.ledger = services.payments, services.ledger
        app.state.receipts = services.receipts
        app.state.receipt_of = receipt_of(services.receipts)
        app.state.intake, app.state.applier = services.intake, services.applier
        app.state.notifications, app.state.outbox = services.notifications, services.outbox
        app.state.reconciliation = services.reconciliation
        app.state.fec = FecSources(
            functools.partial(fec_pieces, services.db), functools.partial(fec_siren, services.db)
        )
        app.state.rate_limits = RateLimits.build(settings, services.db)
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
        docs_url=None,  # regie.kit.docs serves it from an installed package, no CDN
        redoc_url=None,
        openapi_url=OPENAPI_URL if settings.serve_docs else None,
    )
    app.state.settings = settings
    app.state.templates = build_environment()
    app.state.metrics = Metrics()
    app.state.key_cache = KeyCache()  # API key lookups, for one second (regie.kit.keycache)
    install_error_handlers(app)
    app.state.error_pages = {  # not JSON: pages for a browser
        finance_errors.PREFIX: finance_errors.error_page,
        payment_pages.PAY_PREFIX: payment_pages.error_page,
    }
    # innermost of the middlewares: it reads a body only once BodyLimit has bounded it
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.max_body_bytes,
        webhook_limit=settings.max_webhook_body_bytes,
        upload_limit=settings.max_upload_bytes,
        uploads=UPLOADS,
        batch_limit=settings.max_batch_body_bytes,
        batch_paths=BATCH_PATHS,
        file_name=file_name,  # a file's name in a 413, without control characters
    )
    app.add_middleware(RateLimitMiddleware, is_public=is_public)  # before any body is read
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.https)
    app.add_middleware(RequestIdMiddleware)

    app.include_router(payments_router.router)
    app.include_router(payments_batch_router.router)
    app.include_router(inbound_router.router)
    app.include_router(outbound_router.router)
    document_notifications(app.webhooks)  # the OpenAPI document's ``webhooks``
    app.include_router(ledger_router.router)
    app.include_router(reconciliation_router.router)
    app.include_router(reconciliation_router.statements)
    app.include_router(receipts_router.api)
    app.include_router(receipts_router.pages)
    app.include_router(payment_pages.router)
    app.include_router(finance_router.router)
    app.include_router(finance_runs.router)
    app.include_router(finance_decisions.router)
    app.include_router(finance_statements.router)
    app.include_router(site_router)
    if settings.psp == "simulator":
        app.include_router(simulator_router.router)
    document_rate_limits(app)  # every /v1 operation may answer 429
    document_errors(app)  # (last: the shape of every error the document lists, 429 too)
    if settings.serve_docs:
        install_docs(app, OPENAPI_URL)
    app.mount("/static", StaticFiles(directory=str(files("regie.kit") / "static")), name="static")
    app.mount(
        "/finance/static",
        StaticFiles(directory=str(files("regie.finance") / "static")),
        name="finance-static",
    )

    @app.get("/healthz", tags=["operations"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    head, known = code_revisions()

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness (database reachable, migrations current)",
        responses={503: {"description": "Not ready: the database or its migrations"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        db = request.app.state.db
        try:
            await asyncio.wait_for(db.ping(), timeout=2)
            at = await asyncio.wait_for(database_revisions(db.engine), timeout=2)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return _not_ready("database_unavailable", "The database is not reachable.")
        if migrations_pending(at, head, known):
            return _not_ready(
                "migrations_pending",
                f"The database is at revision {', '.join(sorted(at)) or 'none'}; this regie "
                f"needs {head}. Run `regie db upgrade`.",
            )
        return JSONResponse({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        description=(
            "With REGIE_METRICS_TOKEN set, ask with `Authorization: Bearer <token>`. "
            "In production without a token, /metrics is not served."
        ),
        response_class=PlainTextResponse,
        responses={
            401: {"description": "Missing or wrong metrics token"},
            404: {"description": "Not served (production without REGIE_METRICS_TOKEN)"},
        },
    )
    async def metrics(request: Request) -> PlainTextResponse:
        check_metrics_access(settings, request.headers.get("authorization"))
        services: Services = request.app.state.services
        gauges = [gauge for wiring in services.wirings() for gauge in wiring.gauges]
        text = await request.app.state.metrics.render(services.db, gauges)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app
