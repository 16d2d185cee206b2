"""The outbox pump: the worker's periodic job that delivers due notifications.

``deliver_due`` claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, with a lease
so that no lock is held over the network; at most ``per_endpoint`` of one endpoint, taken
in turns, so that one receiver's backlog never holds up the others: ``claims``), POSTs them
signed (``signing``) to the address the SSRF guard vetted (``guard``), records the attempt
and reschedules failures durably (``rules.retry_delay``).

Order: a row is due only when no earlier row (by ``seq``) for the same endpoint and
invoice is still pending, so a receiver never sees ``invoice.refunded`` before the
``invoice.paid`` of the same invoice; an earlier row that is given up stops blocking.

Delivery is at least once (a worker that dies after the POST and before recording it
sends again once the lease runs out): receivers deduplicate on the event id (the body's ``id``,
which the signature covers; ``Regie-Event-Id`` repeats it unsigned).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlmodel import col
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from regie.kit.database import Database, utcnow
from regie.kit.ids import new_token
from regie.kit.logging import private_urls_var
from regie.kit.sealing import Sealer, SealError
from webhooks.outbound import ssrf
from webhooks.outbound.claims import PER_ENDPOINT, due_rows
from webhooks.outbound.guard import UrlGuard
from webhooks.outbound.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookEndpoint
from webhooks.outbound.rules import retry_delay
from webhooks.outbound.signing import signed_headers

log = logging.getLogger("regie.notifications")

#: Only a failure to connect is retried at once: the request was not sent, so sending
#: again cannot make the receiver handle it twice. Everything else waits for the schedule.
QUICK_RETRY_ON = (httpx.ConnectError, httpx.ConnectTimeout)


def notification_client() -> httpx.AsyncClient:
    """The client notifications are sent with: no redirects followed, no proxy from the
    environment (the SSRF checks pin the address they vetted), no kept connections."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def _log_crash(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        exc = task.exception()
        log.error(
            "notification run failed",
            extra={"error_class": type(exc).__name__},
            exc_info=exc,
        )


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery, with what is needed to send it."""

    id: str
    service_id: str
    endpoint_id: str
    event_id: str
    payload: str
    attempts: int  # this attempt's number: the claim counted it
    failures: int
    url: str
    secrets: tuple[str, ...]  # the current secret first; () if it cannot be opened
    token: str


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None


class OutboxPump:
    def __init__(
        self,
        db: Database,
        client: httpx.AsyncClient,
        guard: UrlGuard,
        sealer: Sealer,
        *,
        timeout: float = 10.0,
        quick_retry_wait: float = 0.5,
        lease: dt.timedelta = dt.timedelta(minutes=2),
        batch_size: int = 10,
        concurrency: int = 10,
        per_endpoint: int = PER_ENDPOINT,
    ) -> None:
        self.db = db
        self.client = client
        self.guard = guard
        self.sealer = sealer
        self.timeout = timeout
        self.quick_retry_wait = quick_retry_wait
        self.lease = lease
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.per_endpoint = per_endpoint
        self._run: asyncio.Task[int] | None = None

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

        async def one(job: Claimed, at: dt.datetime) -> None:
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

    async def _claim(self, n: int, now: dt.datetime) -> list[Claimed]:
        # at most per_endpoint rows of an endpoint, every endpoint's oldest first (claims)
        due = due_rows(now, n, per_endpoint=self.per_endpoint, postgres=self.db.is_postgres)
        token = new_token(16)
        async with self.db.session() as s:
            ids = list((await s.execute(due)).scalars())
            if not ids:
                return []
            # each claim starts an attempt and numbers it: one that outlives its lease and
            # the one that takes the notification over are two attempts, never twice one
            await s.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id).in_(ids))
                .values(
                    claimed_until=now + self.lease,
                    claim_token=token,
                    attempts=col(WebhookDelivery.attempts) + 1,
                )
            )
            rows = (
                await s.execute(
                    select(WebhookDelivery, WebhookEndpoint)
                    .join(
                        WebhookEndpoint, col(WebhookEndpoint.id) == col(WebhookDelivery.endpoint_id)
                    )
                    .where(col(WebhookDelivery.id).in_(ids))
                    .order_by(col(WebhookDelivery.seq))
                )
            ).all()
            await s.commit()
        return [
            Claimed(
                id=row.id,
                service_id=row.service_id,
                endpoint_id=row.endpoint_id,
                event_id=row.event_id,
                payload=row.payload,
                attempts=row.attempts,
                failures=row.failures,
                url=endpoint.url,
                secrets=self._secrets(endpoint, now),
                token=token,
            )
            for row, endpoint in rows
        ]

    def _secrets(self, endpoint: WebhookEndpoint, now: dt.datetime) -> tuple[str, ...]:
        """The secrets to sign with (opened here: only this task holds them in clear)."""
        sealed = [endpoint.secret_sealed]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret_sealed and expires is not None and expires > now:
            sealed.append(endpoint.previous_secret_sealed)
        try:
            return tuple(self.sealer.open(x, context=endpoint.id) for x in sealed)
        except SealError:
            log.error("webhook endpoint secret cannot be opened", extra={"endpoint": endpoint.id})
            return ()

    async def _deliver(self, job: Claimed, now: dt.datetime) -> None:
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

    async def _attempt(self, job: Claimed) -> Outcome:
        if not job.secrets:
            return Outcome(False, None, "internal: the secret cannot be opened")
        # re-checked at every delivery: the name may resolve elsewhere since registration
        try:
            pinned = await self.guard.vet(job.url, owner=job.service_id)
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

    async def _post(self, pinned: ssrf.Pinned, job: Claimed) -> int:
        body = job.payload.encode()
        target = pinned.target
        extensions: dict[str, Any] = {}
        if target.scheme == "https" and target.ip_literal is None:
            extensions["sni_hostname"] = target.host  # TLS checks the name, not the address
        # a connection that failed is tried again once at once, on the host's next checked
        # address if it has another (a dual-stack host whose IPv6 does not answer); two
        # tries at most, so that an attempt stays within its bound (and the lease)
        addresses = pinned.addresses
        retrying = AsyncRetrying(
            stop=stop_after_attempt(2),
            wait=wait_fixed(self.quick_retry_wait),
            retry=retry_if_exception_type(QUICK_RETRY_ON),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                number = attempt.retry_state.attempt_number
                address = addresses[(number - 1) % len(addresses)]
                headers = signed_headers(job.secrets, job.event_id, body, target.host_header)
                request = self.client.build_request(
                    "POST",
                    ssrf.pinned_url(target, address),
                    content=body,
                    headers=headers,
                    extensions=extensions,
                    timeout=self.timeout,
                )
                # the whole exchange is bounded (httpx's timeouts are per read/write); its
                # log line shows the receiver's origin only (the path may be its secret)
                private = private_urls_var.set(True)
                try:
                    async with asyncio.timeout(self.timeout * 1.5):
                        response = await self.client.send(
                            request, stream=True, follow_redirects=False
                        )
                        await response.aclose()  # the answer's body is never read
                finally:
                    private_urls_var.reset(private)
                return response.status_code
        raise AssertionError("unreachable")  # pragma: no cover

    async def _record(
        self,
        job: Claimed,
        outcome: Outcome,
        *,
        now: dt.datetime,
        started: dt.datetime,
        duration_ms: int,
    ) -> None:
        values: dict[str, Any] = {
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
                    number=job.attempts,
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
            "attempt": job.attempts,
        }
        if outcome.delivered:
            log.info("notification delivered", extra=extra)
        elif values.get("status") == "failed":
            log.error("notification given up", extra={**extra, "error": outcome.error})
        else:
            log.warning("notification failed; will retry", extra={**extra, "error": outcome.error})
