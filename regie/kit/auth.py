"""Bearer-key authentication and role checks for the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from regie.kit.errors import ApiError
from regie.kit.keycache import KeyCache
from regie.kit.ratelimit import RateLimits, too_many
from regie.kit.tenancy import Role, hash_key, is_test_key, lookup_active_key


@dataclass(frozen=True)
class Principal:
    key_id: str
    service_id: str
    service_slug: str
    role: Role

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.finance, Role.admin)

    @property
    def idempotency_scope(self) -> str:
        """Whose ``Idempotency-Key`` answers a request's key replays: its service's keys of
        its role. A replay answers without the role check, so the finance and admin keys
        of one service never share answers (a finance key replaying an admin's cancel, an
        admin's cancel answered with a finance key's 403). A service key's scope stays the
        service's id, as it always was (``svc_…:finance``, 38 characters, fits the column's
        40)."""
        if self.role == Role.service:
            return self.service_id
        return f"{self.service_id}:{self.role.value}"


def _unauthorized(message: str) -> ApiError:
    return ApiError(
        401, "invalid_api_key", message, headers={"WWW-Authenticate": 'Bearer realm="regie"'}
    )


async def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise _unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    raw = raw.strip()
    if len(raw) > 200:
        raise _unauthorized("Invalid API key.")
    settings = getattr(request.app.state, "settings", None)
    if settings is not None and settings.env == "production" and is_test_key(raw):
        raise _unauthorized("Test keys (rk_test_…) are refused in production; use a live key.")
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    address = limits.client_address(request.scope) if limits is not None else ""
    if limits is not None and (wait := await limits.auth_failures.over(address)) is not None:
        raise too_many(wait)  # this address tried too many wrong keys: not even a lookup
    cache: KeyCache | None = getattr(request.app.state, "key_cache", None)
    fresh, known = cache.get(hash_key(raw)) if cache is not None else (False, None)
    if not fresh:  # a miss: one query (the answer is remembered for KEY_CACHE_TTL)
        async with request.app.state.db.session() as session:
            known = await lookup_active_key(session, raw, cache)
    if known is None:
        if limits is not None:
            await limits.auth_failures.hit(address)
        raise _unauthorized("Invalid or revoked API key.")
    if limits is not None and (wait := await limits.api_key.hit(known.key_id)) is not None:
        raise too_many(wait)
    principal = Principal(known.key_id, known.service_id, known.service_slug, Role(known.role))
    request.state.principal = principal
    return principal


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise ApiError(403, "insufficient_role", f"This call needs a {allowed} key.")
