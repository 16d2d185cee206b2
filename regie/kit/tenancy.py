"""Tenants (client services) and their API keys.

A key belongs to a service and has a role: ``service`` (its own invoices), ``finance``
(all invoices, ledger, reconciliation) or ``admin`` (services and keys). Keys are shown
once and stored as SHA-256 hashes (they carry 192 random bits, so a slow hash adds
nothing); a key can be revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Column, Field, SQLModel, String, col

from regie.kit.database import UTCDateTime, utcnow
from regie.kit.ids import new_id
from regie.kit.keycache import KeyCache, KnownKey, note_revocation


class Role(StrEnum):
    service = "service"
    finance = "finance"
    admin = "admin"


SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
SIREN_LENGTH = 9
SIRET_LENGTH = 14


def siren_of(identifier: str) -> str | None:
    """The SIREN (9 digits) of a SIRET (14 digits) or a SIREN, spaces ignored; else None."""
    digits = "".join(identifier.split())
    if digits.isascii() and digits.isdigit() and len(digits) in (SIREN_LENGTH, SIRET_LENGTH):
        return digits[:SIREN_LENGTH]
    return None


def _slug_reads_as_siren(slug: str, identifier: str) -> bool:
    """A service without a SIREN issues its receipts in its slug's name (``receipts.issuers``),
    where nine digits are a SIREN's: that legal entity's receipts and the service's, in two
    series, would carry the same issuer and numbers."""
    return len(slug) == SIREN_LENGTH and slug.isdigit() and siren_of(identifier) is None


# the longest value each of a service's columns keeps (its contact's: CONTACT_FIELDS)
SERVICE_FIELDS = {"name": 200, "address": 500, "identifier": 40}


class Service(SQLModel, table=True):
    __tablename__ = "services"

    id: str = Field(primary_key=True, max_length=40)
    slug: str = Field(sa_column=Column(String(40), unique=True, nullable=False))
    name: str = Field(max_length=SERVICE_FIELDS["name"])
    address: str = Field(default="", max_length=SERVICE_FIELDS["address"])
    identifier: str = Field(
        default="", max_length=SERVICE_FIELDS["identifier"], description="SIRET or similar"
    )
    timezone: str = Field(default="Europe/Paris", max_length=64)
    # on the payer's card statement after the PSP account's prefix (Stripe's rules are
    # checked where it is set: ``regie services``); None: the account's descriptor alone
    statement_descriptor_suffix: str | None = Field(default=None, max_length=22)
    # how citizens reach the service (on its receipts and on the pay pages that send them
    # to it), and the régie that collects for it (on its receipts); None: not shown
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    opening_hours: str | None = Field(default=None, max_length=200)
    regie_name: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    service_id: str = Field(foreign_key="services.id", index=True, max_length=40)
    role: str = Field(max_length=16)
    prefix: str = Field(max_length=24)
    key_hash: str = Field(sa_column=Column(String(64), unique=True, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


TEST_KEY_PREFIX = "rk_test_"


def generate_key(role: Role, live: bool) -> str:
    return f"rk_{'live' if live else 'test'}_{role.value[:3]}_{secrets.token_urlsafe(24)}"


def is_test_key(raw: str) -> bool:
    """A test key (``rk_test_…``): made outside production, never valid in production."""
    return raw.startswith(TEST_KEY_PREFIX)


@dataclass(frozen=True)
class Contact:
    """How citizens reach a service, as its pages show it (pure)."""

    name: str
    address: tuple[str, ...]
    email: str | None
    phone: str | None
    opening_hours: str | None

    @property
    def tel(self) -> str:
        """The phone number for a ``tel:`` link: digits and a leading +; a French number
        written 0X XX XX XX XX becomes +33XXXXXXXXX."""
        digits = "".join(c for c in self.phone or "" if c.isdigit() or c == "+")
        if len(digits) == 10 and digits.startswith("0"):
            return "+33" + digits[1:]
        return digits


def contact_of(svc: Service | None) -> Contact | None:
    """The service's contact details, or None when it has none to show."""
    if svc is None:
        return None
    address = tuple(part.strip() for part in svc.address.split(",") if part.strip())
    if not (address or svc.email or svc.phone or svc.opening_hours):
        return None
    return Contact(svc.name, address, svc.email, svc.phone, svc.opening_hours)


class TenancyError(ValueError):
    pass


class UnknownService(TenancyError):
    """No service has the name given (for the CLI, a bad argument, not a finding)."""


async def create_service(
    session: AsyncSession,
    slug: str,
    name: str | None = None,
    *,
    address: str = "",
    identifier: str = "",
    timezone: str = "Europe/Paris",
    statement_descriptor_suffix: str | None = None,
) -> Service:
    if not SLUG_RE.fullmatch(slug):
        raise TenancyError("service names are 2-40 lower-case letters, digits or dashes")
    if _slug_reads_as_siren(slug, identifier):
        raise TenancyError(
            "a service named by nine digits needs a SIREN or SIRET (--identifier): without "
            "one its receipts are issued in its name, which would read as a SIREN"
        )
    existing = (
        await session.execute(select(Service).where(col(Service.slug) == slug))
    ).scalar_one_or_none()
    if existing is not None:
        raise TenancyError(f"service {slug!r} already exists")
    svc = Service(
        id=new_id("svc"),
        slug=slug,
        name=name or slug,
        address=address,
        identifier=identifier,
        timezone=timezone,
        statement_descriptor_suffix=statement_descriptor_suffix or None,
        created_at=utcnow(),
    )
    session.add(svc)
    await session.flush()
    return svc


async def set_statement_descriptor_suffix(
    session: AsyncSession, slug: str, suffix: str | None
) -> Service:
    """What a service's payers read after the PSP account's prefix on their card
    statement (None: nothing after it). The caller checks the PSP's rules."""
    svc = await get_service_by_slug(session, slug)
    if svc is None:
        raise UnknownService(f"no service named {slug!r}")
    svc.statement_descriptor_suffix = suffix or None
    await session.flush()
    return svc


CONTACT_FIELDS = {
    "address": 500,
    "email": 254,
    "phone": 40,
    "opening_hours": 200,
    "regie_name": 200,
}


async def set_contact(session: AsyncSession, slug: str, **values: str | None) -> Service:
    """Set how citizens reach a service (``address``, ``email``, ``phone``,
    ``opening_hours``) and the régie that collects for it (``regie_name``); the fields not
    given are left as they are, an empty one is removed. Shown on its receipts issued from
    now on and on the pay pages that send citizens to it."""
    unknown = set(values) - set(CONTACT_FIELDS)
    if unknown:
        raise TenancyError(f"unknown contact fields: {', '.join(sorted(unknown))}")
    svc = await get_service_by_slug(session, slug)
    if svc is None:
        raise UnknownService(f"no service named {slug!r}")
    for name, value in values.items():
        value = (value or "").strip()
        if len(value) > CONTACT_FIELDS[name]:
            raise TenancyError(f"{name} is at most {CONTACT_FIELDS[name]} characters")
        setattr(svc, name, value if name == "address" else (value or None))
    await session.flush()
    return svc


async def get_service_by_slug(session: AsyncSession, slug: str) -> Service | None:
    return (
        await session.execute(select(Service).where(col(Service.slug) == slug))
    ).scalar_one_or_none()


async def create_key(
    session: AsyncSession,
    service: Service,
    role: Role,
    *,
    live: bool,
    raw: str | None = None,
    production: bool = False,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key (shown once, never stored).
    In production (``production=True``) a test key is refused: it could not authenticate."""
    raw = raw or generate_key(role, live)
    if production and (not live or is_test_key(raw)):
        raise TenancyError("production creates live keys only (rk_live_…), never a test key")
    key = ApiKey(
        id=new_id("key"),
        service_id=service.id,
        role=role.value,
        prefix=raw[:12],
        key_hash=hash_key(raw),
        created_at=utcnow(),
    )
    session.add(key)
    await session.flush()
    return key, raw


async def revoke_key(session: AsyncSession, key_id_or_raw: str) -> ApiKey:
    stmt = select(ApiKey).where(
        (col(ApiKey.id) == key_id_or_raw) | (col(ApiKey.key_hash) == hash_key(key_id_or_raw))
    )
    key = (await session.execute(stmt)).scalar_one_or_none()
    if key is None:
        raise TenancyError("no such key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    await session.flush()
    note_revocation()  # this process refuses it at once; the others within KEY_CACHE_TTL
    return key


async def lookup_active_key(
    session: AsyncSession, raw: str, cache: KeyCache | None = None
) -> KnownKey | None:
    """The active key ``raw`` as the API needs it (ids, slug, role): one small Core query,
    whose answer ``cache`` then remembers."""
    key_hash = hash_key(raw)
    row = (
        await session.execute(
            select(col(ApiKey.id), col(ApiKey.service_id), col(Service.slug), col(ApiKey.role))
            .join(Service, col(Service.id) == col(ApiKey.service_id))
            .where(col(ApiKey.key_hash) == key_hash, col(ApiKey.revoked_at).is_(None))
        )
    ).first()
    known = KnownKey(row[0], row[1], row[2], row[3]) if row else None
    if cache is not None:
        cache.put(key_hash, known)
    return known


async def find_active_key(session: AsyncSession, raw: str) -> tuple[ApiKey, Service] | None:
    stmt = (
        select(ApiKey, Service)
        .join(Service, col(Service.id) == col(ApiKey.service_id))
        .where(col(ApiKey.key_hash) == hash_key(raw), col(ApiKey.revoked_at).is_(None))
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def find_active_key_by_id(
    session: AsyncSession, key_id: str
) -> tuple[ApiKey, Service] | None:
    """The key with this id and its service, unless it was revoked (a session made with a
    key stores the key's id, never the key, and asks again on each request)."""
    stmt = (
        select(ApiKey, Service)
        .join(Service, col(Service.id) == col(ApiKey.service_id))
        .where(col(ApiKey.id) == key_id, col(ApiKey.revoked_at).is_(None))
    )
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def list_services(session: AsyncSession) -> list[Service]:
    """Every service, by slug."""
    return list((await session.execute(select(Service).order_by(col(Service.slug)))).scalars())


@dataclass(frozen=True)
class KeyLabel:
    """What a person can tell a key by: its printable prefix, role and service's name."""

    prefix: str
    role: str
    service: str


async def key_labels(session: AsyncSession, key_ids: Iterable[str]) -> dict[str, KeyLabel]:
    """The labels of the keys with these ids, revoked or not (an actor recorded long ago is
    still named); ids that are not keys (``cli``) are left out."""
    ids = sorted({k for k in key_ids if k.startswith("key_")})
    if not ids:
        return {}
    rows = await session.execute(
        select(col(ApiKey.id), col(ApiKey.prefix), col(ApiKey.role), col(Service.name))
        .join(Service, col(Service.id) == col(ApiKey.service_id))
        .where(col(ApiKey.id).in_(ids))
    )
    return {r[0]: KeyLabel(r[1], r[2], r[3]) for r in rows}
