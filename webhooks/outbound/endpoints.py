"""Use cases of a client service's notification endpoints: register, list, retrieve.

The signing secret is made here, sealed into the endpoint's row (``regie.kit.sealing``)
and shown once, in the answer to the call that made it. An idempotent replay of that call
answers without it (``secret: null`` and ``secret_note``): the idempotency table never
holds a secret, and a caller that lost it rotates the endpoint's secret to get a new one.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from payments import repository as payments_repo
from regie.kit.auth import Principal
from regie.kit.database import Database, utcnow
from regie.kit.errors import ApiError, NotFound
from regie.kit.idempotency import Claim
from regie.kit.ids import new_id
from regie.kit.sealing import Sealer
from regie.kit.tenancy import Role
from webhooks.outbound import ssrf
from webhooks.outbound.guard import UrlGuard
from webhooks.outbound.models import WebhookEndpoint
from webhooks.outbound.schemas import EndpointCreate, EndpointCreated, EndpointList, EndpointOut
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
            await self.guard.vet(data.url)
        except ssrf.UnsafeUrl as exc:
            raise ApiError(422, exc.code, exc.message, param="url") from None
        async with self.db.session() as s:
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
    async def _get(s: Any, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
        stmt = select(WebhookEndpoint).where(
            col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.status) != "deleted"
        )
        if not principal.sees_all:
            # another service's endpoint is 404, not 403: its existence is not disclosed
            stmt = stmt.where(col(WebhookEndpoint.service_id) == principal.service_id)
        row = (await s.execute(stmt)).scalar_one_or_none()
        if row is None:
            raise NotFound("webhook endpoint", "id")
        return row  # type: ignore[no-any-return]
