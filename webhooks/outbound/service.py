"""Use cases of the notifications to client services, except delivery (``delivery``).

- ``endpoints`` (``EndpointsService``, in ``endpoints``): a service registers URLs
  (checked against SSRF, see ``guard`` and ``ssrf``) and gets each one's signing secret
  once.
- ``on_invoice_event``: the subscriber of the notified domain events. It runs inside the
  publisher's unit of work and writes one outbox row per active endpoint, so the row
  commits or rolls back with the state change. ``on_invoices_issued``: the same for a
  batch of new invoices (``invoice.created``), endpoints read once per batch, in the
  batch lane (``rules.LANES``): a claim takes an endpoint's other notifications first.
- ``list_deliveries`` / ``get_delivery`` / ``resend``: what was sent, with every attempt,
  and sending one again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased
from sqlmodel import col

from payments import repository as payments_repo
from payments.events import InvoiceEvent, InvoicesIssued
from payments.service import PaymentsService
from regie.kit.auth import Principal
from regie.kit.bulk import bulk_insert
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, NotFound
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id
from regie.kit.sealing import Sealer
from regie.kit.uow import UnitOfWork
from webhooks.outbound.endpoints import EndpointsService, require_manager
from webhooks.outbound.guard import UrlGuard
from webhooks.outbound.models import (
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookDeliveryResend,
    WebhookEndpoint,
)
from webhooks.outbound.rules import (
    EVENT_TYPES,
    INVOICE_CREATED,
    LANE_BATCH,
    LANE_SINGLE,
    build_payload,
    completed_at_commit,
    event_details,
    source_key,
)
from webhooks.outbound.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryList,
    DeliveryOut,
    ResendOut,
)

log = logging.getLogger("regie.notifications")


def _pruned() -> ApiError:
    return ApiError(
        409,
        "delivery_pruned",
        "This notification's body was deleted after the retention period "
        "(REGIE_NOTIFICATION_RETENTION_DAYS); it cannot be sent again.",
    )


class NotificationsService:
    def __init__(
        self, db: Database, payments: PaymentsService, guard: UrlGuard, sealer: Sealer
    ) -> None:
        self.db = db
        self.payments = payments
        self.guard = guard
        self.endpoints = EndpointsService(db, guard, sealer)

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
        payload = build_payload(
            event_id, event_type, now, view.model_dump(mode="json"), **event_details(ev)
        )
        # order per invoice: this row waits for the invoice's earlier ones still pending
        # (``claims._waits``); one of them left in the batch lane would hold it behind the
        # batch's backlog, so it comes into this row's lane (under the invoice's row lock,
        # as every row about the invoice is written)
        await s.execute(
            update(WebhookDelivery)
            .where(
                col(WebhookDelivery.endpoint_id).in_(todo),
                col(WebhookDelivery.invoice_id) == ev.invoice_id,
                col(WebhookDelivery.status) == "pending",
                col(WebhookDelivery.lane) != LANE_SINGLE,
            )
            .values(lane=LANE_SINGLE)
            .execution_options(synchronize_session=False)
        )
        rows = [
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
                lane=LANE_SINGLE,
                next_attempt_at=now,
                created_at=now,
            )
            for endpoint_id in todo
        ]
        s.add_all(rows)
        await s.flush()
        if completed_at_commit(ev):
            # the credit note is numbered at commit by a step receipts registered before
            # this one (they subscribe first): the body is built again after it
            uow.last(lambda: self._rebuild(uow, ev, rows, now))

    async def _rebuild(
        self,
        uow: UnitOfWork,
        ev: InvoiceEvent,
        rows: list[WebhookDelivery],
        created: dt.datetime,
    ) -> None:
        """The body of these rows again, from the invoice as the transaction leaves it
        (same event id and ``created``): run at commit, once the credit note is numbered."""
        view = await self.payments.invoice_view(uow, ev.invoice_id)
        payload = build_payload(
            rows[0].event_id,
            rows[0].event_type,
            created,
            view.model_dump(mode="json"),
            **event_details(ev),
        )
        for row in rows:
            row.payload = payload
        await uow.session.flush()

    async def on_invoices_issued(self, uow: UnitOfWork, ev: InvoicesIssued) -> None:
        """Subscriber of a batch: the service's endpoints are read ONCE for the batch; then
        one ``invoice.created`` row per invoice and endpoint, in one bulk insert (the
        invoices are new: nothing of theirs can be queued already), in the batch lane."""
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
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for view in await self.payments.batch_views(uow, ev.invoice_ids):
            event_id = new_id("evt")
            payload = build_payload(event_id, INVOICE_CREATED, now, view)
            rows.extend(
                {
                    "id": new_id("del"),
                    "service_id": ev.service_id,
                    "endpoint_id": endpoint_id,
                    "event_id": event_id,
                    "event_type": INVOICE_CREATED,
                    "invoice_id": view["id"],
                    "source_key": f"{INVOICE_CREATED}:{view['id']}",
                    "payload": payload,
                    "status": "pending",
                    "lane": LANE_BATCH,
                    "attempts": 0,
                    "failures": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint_id in endpoints
            )
        await bulk_insert(s, WebhookDelivery.__table__, rows)  # type: ignore[attr-defined]

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
            payload_pruned_at=d.payload_pruned_at,
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
        resends = (
            await s.execute(
                select(WebhookDeliveryResend)
                .where(col(WebhookDeliveryResend.delivery_id) == d.id)
                .order_by(col(WebhookDeliveryResend.id))
            )
        ).scalars()
        slugs = await payments_repo.service_slugs(s, [d.service_id])
        return DeliveryDetail(
            **self._delivery_out(d, slugs.get(d.service_id, "")).model_dump(),
            resend_history=[
                ResendOut(at=r.at, key=r.key_id, status_before=r.status_before) for r in resends
            ],
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
        bytes). Order per invoice still holds: an earlier pending row goes first. It keeps
        its lane, unless a later row about its invoice and endpoint is pending in the single
        lane: then it goes there, ahead of that row, not behind the batch lane's backlog.
        An attempt in flight meanwhile is recorded in the history but changes nothing."""
        require_manager(principal)
        now = utcnow()
        async with self.db.session() as s:
            row = await self._get(s, principal, delivery_id)
            before = row.status
            # locked to the commit: a delete of the endpoint (which gives up what is pending
            # for it) waits for the re-queue, or the re-queue sees the endpoint deleted
            endpoint = await s.get(WebhookEndpoint, row.endpoint_id, with_for_update=True)
            if endpoint is None or endpoint.status != "enabled":
                raise ApiError(
                    409,
                    "endpoint_not_enabled",
                    "This notification's endpoint is disabled or deleted; enable it first.",
                )
            if row.payload_pruned_at is not None:
                raise _pruned()
            later = aliased(WebhookDelivery)
            held = exists().where(
                col(later.endpoint_id) == row.endpoint_id,
                col(later.invoice_id) == row.invoice_id,
                col(later.status) == "pending",
                col(later.seq) > row.seq,
                col(later.lane) == LANE_SINGLE,
            )
            lane = LANE_SINGLE if await s.scalar(select(held)) else row.lane
            requeued = await s.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == row.id,
                    # the prune may have emptied it since it was read: never send it empty
                    col(WebhookDelivery.payload_pruned_at).is_(None),
                )
                # an attempt still in flight no longer holds it: its outcome goes into the
                # history, not over this fresh schedule (``delivery._record``)
                .values(
                    status="pending",
                    lane=lane,
                    failures=0,
                    next_attempt_at=now,
                    delivered_at=None,
                    claimed_until=None,
                    claim_token=None,
                )
            )
            if not requeued.rowcount:  # type: ignore[attr-defined]
                raise _pruned()
            s.add(  # the stored event of the change (who, when, from what)
                WebhookDeliveryResend(
                    delivery_id=row.id, service_id=row.service_id, key_id=principal.key_id,
                    status_before=before, at=now,
                )
            )  # fmt: skip
            await s.flush()
            await s.refresh(row)
            body = (await self._detail(s, row)).model_dump(mode="json")
            if claim:
                await claim.complete(s, 200, body)
            await s.commit()
        log.info("notification re-queued", extra={"delivery": delivery_id})
        return 200, body
