"""Use cases of a client service's notification endpoints: register, list, retrieve,
disable and enable, delete, rotate the secret.

The signing secret is made here, sealed into the endpoint's row (``regie.kit.sealing``)
and shown once, in the answer to the call that made it. An idempotent replay of that call
answers without it (``secret: null`` and ``secret_note``): the idempotency table never
holds a secret, and a caller that lost it rotates the endpoint's secret to get a new one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from payments import repository as payments_repo
from regie.kit.auth import Principal
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, NotFound
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id
from regie.kit.sealing import Sealer, SealError
from regie.kit.tenancy import Role, Service
from webhooks.outbound import ssrf
from webhooks.outbound.guard import UrlGuard
from webhooks.outbound.models import PENDING, EndpointChange, WebhookDelivery, WebhookEndpoint
from webhooks.outbound.schemas import (
    EndpointCreate,
    EndpointCreated,
    EndpointDeleted,
    EndpointList,
    EndpointOut,
)
from webhooks.outbound.signing import new_secret

log = logging.getLogger("regie.notifications")

MAX_ENDPOINTS_PER_SERVICE = 16
REPLAY_NOTE = (
    "The secret is shown once and never stored for replays: if you lost it, rotate it "
    "(POST /v1/webhook-endpoints/{id}/rotate-secret)."
)
#: what the idempotency table stores instead of the secret
WITHHELD = {"secret": None, "secret_note": REPLAY_NOTE}


def endpoint_out(e: WebhookEndpoint, slug: str) -> EndpointOut:
    return EndpointOut(
        id=e.id,
        service=slug,
        url=e.url,
        description=e.description,
        status=e.status,
        previous_secret_expires_at=e.previous_secret_expires_at,
        created_at=e.created_at,
    )


class EndpointsService:
    def __init__(self, db: Database, guard: UrlGuard, sealer: Sealer) -> None:
        self.db = db
        self.guard = guard
        self.sealer = sealer

    async def create(
        self, principal: Principal, data: EndpointCreate, claim: Claim | None
    ) -> tuple[int, Any]:
        if principal.role != Role.service:
            raise ApiError(
                403,
                "insufficient_role",
                "Notification endpoints are registered with a service key.",
            )
        try:
            await self.guard.vet(data.url, owner=principal.service_id)
        except ssrf.UnsafeUrl as exc:
            raise ApiError(422, exc.code, exc.message, param="url") from None
        async with self.db.session() as s:
            # the service's registrations take turns from here to the commit, so that each
            # counts the ones before it (FOR NO KEY UPDATE: the rows that refer to the
            # service, its invoices among them, are written meanwhile without waiting)
            await s.execute(
                select(col(Service.id))
                .where(col(Service.id) == principal.service_id)
                .with_for_update(key_share=True)
            )
            count = (
                await s.execute(
                    select(func.count())
                    .select_from(WebhookEndpoint)
                    .where(
                        col(WebhookEndpoint.service_id) == principal.service_id,
                        col(WebhookEndpoint.status) != "deleted",
                    )
                )
            ).scalar_one()
            if count >= MAX_ENDPOINTS_PER_SERVICE:
                raise ApiError(
                    409,
                    "too_many_endpoints",
                    f"A service may register at most {MAX_ENDPOINTS_PER_SERVICE} endpoints.",
                )
            endpoint_id, secret = new_id("whe"), new_secret()
            endpoint = WebhookEndpoint(
                id=endpoint_id,
                service_id=principal.service_id,
                url=data.url,
                description=data.description or None,
                secret_sealed=self.sealer.seal(secret, context=endpoint_id),
                status="enabled",
                created_at=utcnow(),
            )
            s.add(endpoint)
            out = EndpointCreated(
                **endpoint_out(endpoint, principal.service_slug).model_dump(), secret=secret
            )
            body = out.model_dump(mode="json")
            if claim:
                # the replay answers the same endpoint, without its secret
                await claim.complete(s, 201, body, withhold=WITHHELD)
            await s.commit()
        log.info("webhook endpoint registered", extra={"endpoint": endpoint.id})
        return 201, body

    async def list(
        self, principal: Principal, *, limit: int, starting_after: str | None
    ) -> EndpointList:
        async with self.db.session() as s:
            stmt = select(WebhookEndpoint).where(col(WebhookEndpoint.status) != "deleted")
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
            data=[endpoint_out(r, slugs.get(r.service_id, "")) for r in rows],
            has_more=has_more,
            next_starting_after=rows[-1].id if has_more else None,
        )

    @staticmethod
    async def _get(
        s: Any, principal: Principal, endpoint_id: str, *, lock: bool = False
    ) -> WebhookEndpoint:
        """``lock``: for a call that changes the endpoint. Its row stays locked until the
        commit, so that calls on one endpoint take turns, each reading what the one before
        wrote: a rotation keeps the previous rotation's secret signing, and a deleted
        endpoint is 404 to a call that waited for the delete (on SQLite one writes at a
        time anyway)."""
        stmt = select(WebhookEndpoint).where(
            col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.status) != "deleted"
        )
        if not principal.sees_all:
            # another service's endpoint is 404, not 403: its existence is not disclosed
            stmt = stmt.where(col(WebhookEndpoint.service_id) == principal.service_id)
        if lock:
            stmt = stmt.with_for_update()
        row = (await s.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound("webhook endpoint", "id")
        return row  # type: ignore[no-any-return]

    # ------------------------------------------------ managing an endpoint
    async def get(self, principal: Principal, endpoint_id: str) -> EndpointOut:
        async with self.db.session() as s:
            row = await self._get(s, principal, endpoint_id)
            slugs = await payments_repo.service_slugs(s, [row.service_id])
        return endpoint_out(row, slugs.get(row.service_id, ""))

    async def set_status(
        self, principal: Principal, endpoint_id: str, status: str, claim: Claim | None
    ) -> tuple[int, Any]:
        """``disabled``: no notification is written for it any more, and what it has
        pending waits; ``enabled``: what waited goes out, in order."""
        require_manager(principal)
        async with self.db.session() as s:
            row = await self._get(s, principal, endpoint_id, lock=True)
            _record_change(s, principal, row, status)
            row.status = status
            s.add(row)
            slugs = await payments_repo.service_slugs(s, [row.service_id])
            body = endpoint_out(row, slugs.get(row.service_id, "")).model_dump(mode="json")
            if claim:
                await claim.complete(s, 200, body)
            await s.commit()
        log.info(f"webhook endpoint {status}", extra={"endpoint": endpoint_id})
        return 200, body

    async def delete(self, principal: Principal, endpoint_id: str) -> EndpointDeleted:
        """The row stays (its deliveries' history points at it) without its secrets; what
        was pending for it is given up."""
        require_manager(principal)
        async with self.db.session() as s:
            row = await self._get(s, principal, endpoint_id, lock=True)
            _record_change(s, principal, row, "deleted")
            row.status = "deleted"
            row.secret_sealed = ""
            row.previous_secret_sealed = None
            row.previous_secret_expires_at = None
            s.add(row)
            await s.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.endpoint_id) == endpoint_id,
                    col(WebhookDelivery.status) == PENDING,  # the partial index's rows
                )
                .values(status="failed", last_error="endpoint deleted", claimed_until=None)
            )
            await s.commit()
        log.info("webhook endpoint deleted", extra={"endpoint": endpoint_id})
        return EndpointDeleted(id=endpoint_id)

    async def rotate_secret(
        self,
        principal: Principal,
        endpoint_id: str,
        overlap: dt.timedelta,
        claim: Claim | None,
    ) -> tuple[int, Any]:
        """A new secret, shown once; the current one keeps signing next to it for
        ``overlap`` (a rotation during a rotation drops the oldest)."""
        require_manager(principal)
        secret = new_secret()
        async with self.db.session() as s:
            row = await self._get(s, principal, endpoint_id, lock=True)
            if overlap > dt.timedelta(0):
                row.previous_secret_sealed = row.secret_sealed
                row.previous_secret_expires_at = utcnow() + overlap
            else:
                row.previous_secret_sealed = None
                row.previous_secret_expires_at = None
            row.secret_sealed = self.sealer.seal(secret, context=row.id)
            s.add(row)
            slugs = await payments_repo.service_slugs(s, [row.service_id])
            out = EndpointCreated(
                **endpoint_out(row, slugs.get(row.service_id, "")).model_dump(), secret=secret
            )
            body = out.model_dump(mode="json")
            if claim:
                await claim.complete(s, 200, body, withhold=WITHHELD)
            await s.commit()
        log.info("webhook endpoint secret rotated", extra={"endpoint": endpoint_id})
        return 200, body


async def reseal_all(db: Database, sealer: Sealer) -> int:
    """Seal every endpoint secret again with the current ``REGIE_SECRET_KEY`` (after a
    change of key; the former ones must still be in ``REGIE_PREVIOUS_SECRET_KEYS``).
    Returns how many values were sealed again; a value that opens with no key is left
    as it is and logged (its endpoint's deliveries fail until its secret is rotated)."""
    done = 0
    async with db.session() as s:
        rows = (
            await s.execute(
                select(WebhookEndpoint)
                .where(col(WebhookEndpoint.status) != "deleted")
                .with_for_update()
            )
        ).scalars()
        for row in rows:
            for field in ("secret_sealed", "previous_secret_sealed"):
                sealed = getattr(row, field)
                if not sealed or sealer.is_current(sealed):
                    continue
                try:
                    clear = sealer.open(sealed, context=row.id)
                except SealError:
                    log.error(
                        "webhook endpoint secret cannot be opened", extra={"endpoint": row.id}
                    )
                    continue
                setattr(row, field, sealer.seal(clear, context=row.id))
                done += 1
            s.add(row)
        await s.commit()
    return done


def require_manager(principal: Principal) -> None:
    """Finance keys read notifications (every service's, for support) but change none:
    managing an endpoint or re-sending is for the owning service's key, or an admin's."""
    if principal.role not in (Role.service, Role.admin):
        raise ApiError(
            403,
            "insufficient_role",
            "Notifications are managed with the owning service's key (or an admin key); "
            "a finance key reads them only.",
        )


def _record_change(
    s: AsyncSession, principal: Principal, row: WebhookEndpoint, status: str
) -> None:
    """The stored event of a status change (``EndpointChange``), in the change's
    transaction: who, when, from what to what (a call that leaves the status as it was,
    an enable of an enabled endpoint, changes nothing and stores nothing)."""
    if row.status == status:
        return
    s.add(
        EndpointChange(
            endpoint_id=row.id, service_id=row.service_id, key_id=principal.key_id,
            status_before=row.status, status_after=status, at=utcnow(),
        )
    )  # fmt: skip
