"""Use cases of the notifications to client services (the outbox and its delivery).

- ``create_endpoint`` / ``list_endpoints``: a service registers URLs (checked against
  SSRF, see ``webhooks.ssrf``) and gets each one's signing secret once.
- ``on_invoice_event``: the subscriber of the notified domain events. It runs inside the
  publisher's unit of work and writes one outbox row per active endpoint, so the row
  commits or rolls back with the state change.
- ``deliver_due``: the worker's periodic job. It claims due rows (``FOR UPDATE SKIP
  LOCKED`` on PostgreSQL, with a lease so that no lock is held over the network), POSTs
  them signed, records the attempt and reschedules failures durably.

Order: a row is due only when no earlier row (by ``seq``) for the same endpoint and
invoice is still pending, so a receiver never sees ``invoice.refunded`` before the
``invoice.paid`` of the same invoice; an earlier row that is given up stops blocking.

Delivery is at least once (a worker that dies after the POST and before recording it
sends again once the lease runs out): receivers deduplicate on ``Regie-Event-Id``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import col
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from payments import repository as payments_repo
from payments import signing
from payments.events import InvoiceEvent
from payments.service import PaymentsService
from regie.kit import __version__
from regie.kit.auth import Principal
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, NotFound
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id, new_token
from regie.kit.tenancy import Role
from regie.kit.uow import UnitOfWork
from webhooks import ssrf
from webhooks.notifications import (
    EVENT_TYPES,
    AttemptOut,
    DeliveryDetail,
    DeliveryList,
    DeliveryOut,
    EndpointCreate,
    EndpointCreated,
    EndpointList,
    EndpointOut,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEndpoint,
    build_payload,
    retry_delay,
    source_key,
)

log = logging.getLogger("regie.notifications")

MAX_ENDPOINTS_PER_SERVICE = 16
#: Notified domain event classes, for the composition root to subscribe.
NOTIFIED_EVENTS: tuple[type[InvoiceEvent], ...] = tuple(EVENT_TYPES)
#: Only a failure to connect is retried at once: the request was not sent, so sending
#: again cannot make the receiver handle it twice. Everything else waits for the schedule.
QUICK_RETRY_ON = (httpx.ConnectError, httpx.ConnectTimeout)


async def system_resolver(host: str, port: int) -> list[str]:
    """``getaddrinfo`` in a thread (the event loop never waits on DNS)."""
    infos = await asyncio.wait_for(
        asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM), timeout=5
    )
    out: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in out:
            out.append(address)
    return out


def _log_crash(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.error(
            "notification run failed",
            extra={"error_class": type(exc).__name__},
            exc_info=exc,
        )


def new_secret() -> str:
    return "whsec_" + new_token(32)


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with what is needed to send it."""

    id: str
    service_id: str
    endpoint_id: str
    event_id: str
    payload: str
    attempts: int
    failures: int
    url: str
    secret: str
    token: str


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None


class NotificationsService:
    def __init__(
        self,
        db: Database,
        payments: PaymentsService,
        client: httpx.AsyncClient,
        *,
        production: bool,
        resolver: ssrf.Resolver = system_resolver,
        timeout: float = 10.0,
        quick_retry_wait: float = 0.5,
        lease: dt.timedelta = dt.timedelta(minutes=2),
        batch_size: int = 10,
        concurrency: int = 10,
    ) -> None:
        self.db = db
        self.payments = payments
        self.client = client
        self.production = production
        self.resolver = resolver
        self.timeout = timeout
        self.quick_retry_wait = quick_retry_wait
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._run: asyncio.Task[int] | None = None

    # --------------------------------------------------------------- endpoints
    async def _vet(self, url: str) -> ssrf.Pinned:
        return await ssrf.vet(url, production=self.production, resolver=self.resolver)

    async def create_endpoint(
        self, principal: Principal, data: EndpointCreate, claim: Claim | None
    ) -> tuple[int, Any]:
        if principal.role != Role.service:
            raise ApiError(
                403,
                "insufficient_role",
                "Notification endpoints are registered with a service key.",
            )
        try:
            await self._vet(data.url)
        except ssrf.UnsafeUrl as exc:
            raise ApiError(422, exc.code, exc.message, param="url") from None
        async with self.db.session() as s:
            count = (
                await s.execute(
                    select(func.count())
                    .select_from(WebhookEndpoint)
                    .where(col(WebhookEndpoint.service_id) == principal.service_id)
                )
            ).scalar_one()
            if count >= MAX_ENDPOINTS_PER_SERVICE:
                raise ApiError(
                    409,
                    "too_many_endpoints",
                    f"A service may register at most {MAX_ENDPOINTS_PER_SERVICE} endpoints.",
                )
            endpoint = WebhookEndpoint(
                id=new_id("whe"),
                service_id=principal.service_id,
                url=data.url,
                description=data.description or None,
                secret=new_secret(),
                status="enabled",
                created_at=utcnow(),
            )
            s.add(endpoint)
            out = EndpointCreated(
                **self._endpoint_out(endpoint, principal.service_slug).model_dump(),
                secret=endpoint.secret,
            )
            body = out.model_dump(mode="json")
            if claim:
                # the replay of this key answers the same (the caller may have lost it)
                await claim.complete(s, 201, body)
            await s.commit()
        log.info("webhook endpoint registered", extra={"endpoint": endpoint.id})
        return 201, body

    @staticmethod
    def _endpoint_out(e: WebhookEndpoint, slug: str) -> EndpointOut:
        return EndpointOut(
            id=e.id,
            service=slug,
            url=e.url,
            description=e.description,
            status=e.status,
            created_at=e.created_at,
        )

    async def list_endpoints(
        self, principal: Principal, *, limit: int, starting_after: str | None
    ) -> EndpointList:
        async with self.db.session() as s:
            stmt = select(WebhookEndpoint)
            if not principal.sees_all:
                stmt = stmt.where(col(WebhookEndpoint.service_id) == principal.service_id)
            if starting_after is not None:
                stmt = stmt.where(col(WebhookEndpoint.id) < starting_after)
            stmt = stmt.order_by(col(WebhookEndpoint.id).desc()).limit(limit + 1)
            rows = list((await s.execute(stmt)).scalars())
            has_more = len(rows) > limit
            rows = rows[:limit]
            slugs = await payments_repo.service_slugs(s, sorted({r.service_id for r in rows}))
        return EndpointList(
            data=[self._endpoint_out(r, slugs.get(r.service_id, "")) for r in rows],
            has_more=has_more,
            next_starting_after=rows[-1].id if has_more else None,
        )

    # ------------------------------------------------------------- the outbox
    async def on_invoice_event(self, uow: UnitOfWork, ev: InvoiceEvent) -> None:
        """Subscriber: one outbox row per active endpoint, in the publisher's transaction."""
        event_type = EVENT_TYPES.get(type(ev))
        if event_type is None:
            return
        s = uow.session
        endpoints = list(
            (
                await s.execute(
                    select(col(WebhookEndpoint.id))
                    .where(
                        col(WebhookEndpoint.service_id) == ev.service_id,
                        col(WebhookEndpoint.status) == "enabled",
                    )
                    .order_by(col(WebhookEndpoint.id))
                )
            ).scalars()
        )
        if not endpoints:
            return
        key = source_key(ev, event_type)
        already = set(
            (
                await s.execute(
                    select(col(WebhookDelivery.endpoint_id)).where(
                        col(WebhookDelivery.source_key) == key,
                        col(WebhookDelivery.endpoint_id).in_(endpoints),
                    )
                )
            ).scalars()
        )
        todo = [e for e in endpoints if e not in already]
        if not todo:
            return
        view = await self.payments.invoice_view(uow, ev.invoice_id)
        now = utcnow()
        event_id = new_id("evt")
        payload = build_payload(event_id, event_type, now, view.model_dump(mode="json"))
        for endpoint_id in todo:
            s.add(
                WebhookDelivery(
                    id=new_id("del"),
                    service_id=ev.service_id,
                    endpoint_id=endpoint_id,
                    event_id=event_id,
                    event_type=event_type,
                    invoice_id=ev.invoice_id,
                    source_key=key,
                    payload=payload,
                    status="pending",
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        await s.flush()

    # --------------------------------------------------------------- delivery
    async def pump(self) -> None:
        """The worker's periodic job: start a delivery run unless one is under way.

        The run is its own task, so a receiver that takes its whole timeout never holds
        up the worker's other jobs (applying PSP events above all)."""
        if self._run is None or self._run.done():
            self._run = asyncio.create_task(self.deliver_due(), name="regie-notifications")
            self._run.add_done_callback(_log_crash)

    async def wait_idle(self) -> None:
        """Wait for the run that ``pump`` started, if any (tests, shutdown)."""
        if self._run is not None:
            await asyncio.wait([self._run])

    async def close(self, grace: float = 15.0) -> None:
        """Let a run in progress finish (bounded); what it could not record is sent again
        once its lease runs out."""
        run = self._run
        if run is None or run.done():
            return
        _done, pending = await asyncio.wait([run], timeout=grace)
        for task in pending:
            task.cancel()

    async def deliver_due(self, limit: int = 100, *, now: dt.datetime | None = None) -> int:
        """Deliver up to ``limit`` due rows; returns how many were attempted.

        Rounds repeat while rows come due, so the next notification about an invoice goes
        out in the same run as soon as the one before it is delivered. ``now`` lets tests
        stand at a later instant instead of waiting for the schedule.
        """
        attempted = 0
        gate = asyncio.Semaphore(self.concurrency)

        async def one(job: Job, at: dt.datetime) -> None:
            async with gate:
                await self._deliver(job, at)

        while attempted < limit:
            at = now or utcnow()
            jobs = await self._claim(min(self.batch_size, limit - attempted), at)
            if not jobs:
                break
            await asyncio.gather(*(one(job, at) for job in jobs))
            attempted += len(jobs)
        return attempted

    async def _claim(self, n: int, now: dt.datetime) -> list[Job]:
        d = WebhookDelivery.__table__.c  # type: ignore[attr-defined]
        earlier = aliased(WebhookDelivery, name="earlier")
        blocked = exists().where(
            col(earlier.endpoint_id) == d.endpoint_id,
            col(earlier.invoice_id) == d.invoice_id,
            col(earlier.status) == "pending",
            col(earlier.seq) < d.seq,
        )
        due = (
            select(d.id)
            .where(
                d.status == "pending",
                d.next_attempt_at <= now,
                or_(d.claimed_until.is_(None), d.claimed_until <= now),
                ~blocked,
            )
            .order_by(d.next_attempt_at, d.seq)
            .limit(n)
        )
        if self.db.is_postgres:
            due = due.with_for_update(skip_locked=True, of=WebhookDelivery.__table__)  # type: ignore[attr-defined]
        token = new_token(16)
        async with self.db.session() as s:
            ids = list((await s.execute(due)).scalars())
            if not ids:
                return []
            await s.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_(ids))
                .values(claimed_until=now + self.lease, claim_token=token)
            )
            rows = (
                await s.execute(
                    select(WebhookDelivery, col(WebhookEndpoint.url), col(WebhookEndpoint.secret))
                    .join(
                        WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id)
                    )
                    .where(col(WebhookDelivery.id).in_(ids))
                    .order_by(col(WebhookDelivery.seq))
                )
            ).all()
            await s.commit()
        return [
            Job(
                id=row.id,
                service_id=row.service_id,
                endpoint_id=row.endpoint_id,
                event_id=row.event_id,
                payload=row.payload,
                attempts=row.attempts,
                failures=row.failures,
                url=url,
                secret=secret,
                token=token,
            )
            for row, url, secret in rows
        ]

    async def _deliver(self, job: Job, now: dt.datetime) -> None:
        started = utcnow()
        t0 = time.monotonic()
        try:
            outcome = await self._attempt(job)
        except Exception as exc:
            outcome = Outcome(False, None, f"internal: {type(exc).__name__}")
            log.error(
                "notification attempt crashed",
                extra={"delivery": job.id, "error_class": type(exc).__name__},
                exc_info=exc,
            )
        duration_ms = int((time.monotonic() - t0) * 1000)
        await self._record(job, outcome, now=now, started=started, duration_ms=duration_ms)

    async def _attempt(self, job: Job) -> Outcome:
        # re-checked at every delivery: the name may resolve elsewhere since registration
        try:
            pinned = await self._vet(job.url)
        except ssrf.UnsafeUrl as exc:
            return Outcome(False, None, f"blocked: {exc.message}"[:500])
        try:
            status = await self._post(pinned, job)
        except (httpx.TimeoutException, TimeoutError):
            return Outcome(False, None, "timeout")
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            return Outcome(False, None, f"{type(exc).__name__}: {detail}"[:500])
        if 200 <= status < 300:
            return Outcome(True, status, None)
        return Outcome(False, status, f"HTTP {status}")

    async def _post(self, pinned: ssrf.Pinned, job: Job) -> int:
        body = job.payload.encode()
        target = pinned.target
        extensions: dict[str, Any] = {}
        if target.scheme == "https" and target.ip_literal is None:
            extensions["sni_hostname"] = target.host  # TLS checks the name, not the address
        retrying = AsyncRetrying(
            stop=stop_after_attempt(2),
            wait=wait_fixed(self.quick_retry_wait),
            retry=retry_if_exception_type(QUICK_RETRY_ON),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                headers = {
                    "Host": target.host_header,
                    "Content-Type": "application/json",
                    "User-Agent": f"regie/{__version__} (+notifications)",
                    "Regie-Event-Id": job.event_id,
                    "Regie-Signature": signing.sign(job.secret, body),
                }
                request = self.client.build_request(
                    "POST",
                    pinned.url,
                    content=body,
                    headers=headers,
                    extensions=extensions,
                    timeout=self.timeout,
                )
                # the whole exchange is bounded (httpx's timeouts are per read/write)
                async with asyncio.timeout(self.timeout * 1.5):
                    response = await self.client.send(request, stream=True, follow_redirects=False)
                    await response.aclose()  # the answer's body is never read
                return response.status_code
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record(
        self,
        job: Job,
        outcome: Outcome,
        *,
        now: dt.datetime,
        started: dt.datetime,
        duration_ms: int,
    ) -> None:
        values: dict[str, Any] = {
            "attempts": job.attempts + 1,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "last_attempt_at": started,
            "claimed_until": None,
            "claim_token": None,
        }
        if outcome.delivered:
            values.update(status="delivered", delivered_at=utcnow(), failures=0)
        else:
            failures = job.failures + 1
            delay = retry_delay(failures)
            values["failures"] = failures
            if delay is None:
                values["status"] = "failed"
            else:
                values["next_attempt_at"] = now + delay
        async with self.db.session() as s:
            s.add(
                WebhookDeliveryAttempt(
                    delivery_id=job.id,
                    service_id=job.service_id,
                    number=job.attempts + 1,
                    outcome="delivered" if outcome.delivered else "failed",
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=duration_ms,
                    started_at=started,
                )
            )
            await s.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == job.id,
                    col(WebhookDelivery.claim_token) == job.token,
                )
                .values(**values)
            )
            await s.commit()
        extra = {
            "delivery": job.id,
            "endpoint": job.endpoint_id,
            "event": job.event_id,
            "status_code": outcome.status_code,
            "attempt": job.attempts + 1,
        }
        if outcome.delivered:
            log.info("notification delivered", extra=extra)
        elif values.get("status") == "failed":
            log.error("notification given up", extra={**extra, "error": outcome.error})
        else:
            log.warning("notification failed; will retry", extra={**extra, "error": outcome.error})

    # ------------------------------------------------------ deliveries (API)
    @staticmethod
    def _delivery_out(d: WebhookDelivery, slug: str) -> DeliveryOut:
        return DeliveryOut(
            id=d.id,
            service=slug,
            endpoint=d.endpoint_id,
            event_id=d.event_id,
            event_type=d.event_type,
            invoice=d.invoice_id,
            status=d.status,  # type: ignore[arg-type]
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            last_attempt_at=d.last_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )

    async def list_deliveries(
        self,
        principal: Principal,
        *,
        limit: int,
        starting_after: str | None,
        status: str | None,
        endpoint: str | None,
        invoice: str | None,
    ) -> DeliveryList:
        async with self.db.session() as s:
            stmt = select(WebhookDelivery)
            if not principal.sees_all:
                stmt = stmt.where(col(WebhookDelivery.service_id) == principal.service_id)
            if starting_after is not None:
                stmt = stmt.where(col(WebhookDelivery.id) < starting_after)
            if status is not None:
                stmt = stmt.where(col(WebhookDelivery.status) == status)
            if endpoint is not None:
                stmt = stmt.where(col(WebhookDelivery.endpoint_id) == endpoint)
            if invoice is not None:
                stmt = stmt.where(col(WebhookDelivery.invoice_id) == invoice)
            stmt = stmt.order_by(col(WebhookDelivery.id).desc()).limit(limit + 1)
            rows = list((await s.execute(stmt)).scalars())
            has_more = len(rows) > limit
            rows = rows[:limit]
            slugs = await payments_repo.service_slugs(s, sorted({r.service_id for r in rows}))
        return DeliveryList(
            data=[self._delivery_out(r, slugs.get(r.service_id, "")) for r in rows],
            has_more=has_more,
            next_starting_after=rows[-1].id if has_more else None,
        )

    async def _get(self, s: Any, principal: Principal, delivery_id: str) -> WebhookDelivery:
        stmt = select(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id)
        if not principal.sees_all:
            # another service's delivery is 404, not 403: its existence is not disclosed
            stmt = stmt.where(col(WebhookDelivery.service_id) == principal.service_id)
        row = (await s.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound("webhook delivery", "id")
        return row  # type: ignore[no-any-return]

    async def _detail(self, s: Any, d: WebhookDelivery) -> DeliveryDetail:
        attempts = (
            await s.execute(
                select(WebhookDeliveryAttempt)
                .where(col(WebhookDeliveryAttempt.delivery_id) == d.id)
                .order_by(col(WebhookDeliveryAttempt.number), col(WebhookDeliveryAttempt.id))
            )
        ).scalars()
        slugs = await payments_repo.service_slugs(s, [d.service_id])
        return DeliveryDetail(
            **self._delivery_out(d, slugs.get(d.service_id, "")).model_dump(),
            attempt_history=[
                AttemptOut(
                    number=a.number,
                    outcome=a.outcome,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                    started_at=a.started_at,
                )
                for a in attempts
            ],
        )

    async def get_delivery(self, principal: Principal, delivery_id: str) -> DeliveryDetail:
        async with self.db.session() as s:
            return await self._detail(s, await self._get(s, principal, delivery_id))

    async def resend(
        self, principal: Principal, delivery_id: str, claim: Claim | None
    ) -> tuple[int, Any]:
        """Queue the delivery again, due now, with a fresh retry schedule (same event id and
        bytes). Order per invoice still holds: an earlier pending row goes first."""
        now = utcnow()
        async with self.db.session() as s:
            row = await self._get(s, principal, delivery_id)
            await s.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == row.id)
                .values(status="pending", failures=0, next_attempt_at=now, delivered_at=None)
            )
            await s.refresh(row)
            body = (await self._detail(s, row)).model_dump(mode="json")
            if claim:
                await claim.complete(s, 200, body)
            await s.commit()
        log.info("notification re-queued", extra={"delivery": delivery_id})
        return 200, body

    # -------------------------------------------------------------- metrics
    async def backlog(self) -> int:
        """Rows not yet delivered nor given up (the outbox backlog)."""
        async with self.db.session() as s:
            return int(
                (
                    await s.execute(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(col(WebhookDelivery.status) == "pending")
                    )
                ).scalar_one()
            )
