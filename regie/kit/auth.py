"""Bearer-key authentication and role checks for the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from regie.kit.errors import ApiError
from regie.kit.tenancy import Role, find_active_key, is_test_key


@dataclass(frozen=True)
class Principal:
    key_id: str
    service_id: str
    service_slug: str
    role: Role

    @property
    def sees_all(self) -> bool:
        return self.role in (Role.finance, Role.admin)


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
    db = request.app.state.db
    async with db.session() as session:
        found = await find_active_key(session, raw)
    if found is None:
        raise _unauthorized("Invalid or revoked API key.")
    key, service = found
    principal = Principal(key.id, service.id, service.slug, Role(key.role))
    request.state.principal = principal
    return principal


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        allowed = " or ".join(r.value for r in roles)
        raise ApiError(403, "insufficient_role", f"This call needs a {allowed} key.")
