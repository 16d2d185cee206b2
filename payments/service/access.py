"""Whose invoices a caller may see. Pure."""

from __future__ import annotations

from regie.kit.auth import Principal


def scope(principal: Principal) -> str | None:
    """The service whose rows a query is limited to; None for a principal that sees all."""
    return None if principal.sees_all else principal.service_id
