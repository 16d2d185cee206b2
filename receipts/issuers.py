"""Who issues a receipt: the legal entity, named by its SIREN (pure).

The services of one legal entity (a town hall's urbanisme and état civil, each with the
town hall's SIRET or one of its establishments') are one issuer: one gap-free series of
receipt numbers and one of credit notes per year, and one name in the verification URL,
``/receipts/verify/{issuer}/{number}``. A service whose identifier is no SIREN or SIRET
(or none) is an issuer on its own, named by its slug, with its own series; such a slug is
never nine digits (``regie.kit.tenancy.create_service``), a SIREN's name.
"""

from __future__ import annotations

from regie.kit.tenancy import SIREN_LENGTH, SIRET_LENGTH, siren_of

__all__ = ["SIREN_LENGTH", "SIRET_LENGTH", "issuer_key", "sequence_scope", "siren_of"]


def issuer_key(identifier: str, slug: str) -> str:
    """The issuer's name in URLs and on the receipts table: its SIREN, else the service."""
    return siren_of(identifier) or slug


def sequence_scope(kind: str, identifier: str, service_id: str) -> str:
    """The gap-free counter of ``kind`` (``receipt`` or ``credit_note``) for this service:
    its legal entity's (``receipt:siren:213105554``) or, without a SIREN, its own
    (``receipt:svc_…``, the scope every service had before issuers were shared)."""
    siren = siren_of(identifier)
    return f"{kind}:siren:{siren}" if siren else f"{kind}:{service_id}"
