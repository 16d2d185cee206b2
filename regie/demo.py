"""Seed data for ``regie demo`` (development only)."""

from __future__ import annotations

import datetime as dt
import errno
import socket
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Select, column, func, inspect, or_, select, table
from sqlalchemy.ext.asyncio import AsyncConnection

from regie.kit.auth import Principal
from regie.kit.database import Database
from regie.kit.settings import Settings
from regie.kit.tenancy import (
    Role,
    create_key,
    create_service,
    find_active_key,
    get_service_by_slug,
    hash_key,
    set_contact,
)

# Fixed test keys so that the README's curl commands work as written. They are public:
# `regie demo` refuses to run in production, and writes them only into a database that
# holds nothing but the demo's own seed (``foreign_data``), whatever REGIE_ENV says.
DEMO_KEYS = (
    ("urbanisme", "service", "rk_test_ser_demo_urbanisme"),
    ("etat-civil", "service", "rk_test_ser_demo_etat_civil"),
    ("tresorerie", "finance", "rk_test_fin_demo_tresorerie"),
)
DEMO_SERVICES = {
    "urbanisme": (
        "Mairie de Villeneuve – Urbanisme",
        "1 place de la Mairie, 31000 Villeneuve",
        "21310555400017",
    ),
    "etat-civil": (
        "Mairie de Villeneuve – État civil",
        "1 place de la Mairie, 31000 Villeneuve",
        "21310555400025",
    ),
    "tresorerie": (
        "Mairie de Villeneuve – Régie de recettes",
        "1 place de la Mairie, 31000 Villeneuve",
        "21310555400033",
    ),
}

# how citizens reach each service (on its receipts and on the pay pages that send them to it)
DEMO_CONTACTS = {
    "urbanisme": {
        "email": "urbanisme@villeneuve.example",
        "phone": "05 61 00 00 10",
        "opening_hours": "Lun.–ven. 8 h 30 – 12 h, 13 h 30 – 17 h",
        "regie_name": "Régie de recettes de l'urbanisme",
    },
    "etat-civil": {
        "email": "etat-civil@villeneuve.example",
        "phone": "05 61 00 00 20",
        "opening_hours": "Lun.–ven. 8 h 30 – 17 h, sam. 9 h – 12 h",
        "regie_name": "Régie de recettes de l'état civil",
    },
}

DEMO_REFERENCES = ("DEMO-PC-0001", "DEMO-EC-0001")


class DemoRefused(RuntimeError):
    """The target database holds data that is not the demo's: nothing was written."""


class PortTaken(RuntimeError):
    """The demo's port is in use: said before anything is migrated, seeded or started."""


def take_port(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host:port`` now, before the demo prints "ready" or starts its
    worker, and hand the socket to the server (no window for another process to take it)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: not TIME_WAIT
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortTaken(
                f"port {port} on {host} is already in use (another regie demo?): stop what "
                f"uses it, or run `make demo PORT={port + 1}` (`regie demo --port {port + 1}`); "
                "nothing was started"
            ) from None
        raise PortTaken(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


async def foreign_data(database_url: str) -> str | None:
    """What the database holds besides the demo's own seed (services, API keys, invoices),
    in words; None when it is empty or holds only the demo's seed. Reads only."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as conn:
            return await _foreign(conn)
    finally:
        await db.dispose()


_SERVICES = table("services", column("id"), column("slug"))
_KEYS = table("api_keys", column("key_hash"))
_INVOICES = table("invoices", column("service_id"), column("reference"))


async def _foreign(conn: AsyncConnection) -> str | None:
    tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    found: list[str] = []

    async def count(query: Select[Any]) -> int:
        return int((await conn.execute(query)).scalar_one())

    counted = select(func.count())
    if "services" in tables:
        n = await count(
            counted.select_from(_SERVICES).where(_SERVICES.c.slug.not_in(list(DEMO_SERVICES)))
        )
        if n:
            found.append(f"{n} other service(s)")
    seeded = False  # the demo's public keys are already there: the demo seeded it
    if "api_keys" in tables:
        demo_hashes = [hash_key(raw) for _, _, raw in DEMO_KEYS]
        n = await count(counted.select_from(_KEYS).where(_KEYS.c.key_hash.not_in(demo_hashes)))
        if n:
            found.append(f"{n} other API key(s)")
        mine = await count(counted.select_from(_KEYS).where(_KEYS.c.key_hash.in_(demo_hashes)))
        seeded = mine == len(DEMO_KEYS)
    # In a database the demo seeded (only its services, only its keys), every invoice was
    # made with its public keys (the README's tour): starting it again exposes nothing new.
    # Elsewhere, an invoice that is not the demo's own seed is somebody's real data.
    if "invoices" in tables and "services" in tables and not seeded:
        joined = _INVOICES.join(_SERVICES, _SERVICES.c.id == _INVOICES.c.service_id)
        n = await count(
            counted.select_from(joined).where(
                or_(
                    _INVOICES.c.reference.not_in(list(DEMO_REFERENCES)),
                    _SERVICES.c.slug.not_in(list(DEMO_SERVICES)),
                )
            )
        )
        if n:
            found.append(f"{n} invoice(s) that are not the demo's")
    return "; ".join(found) or None


async def seed(settings: Settings) -> list[tuple[str, str]]:
    """Create the demo services, keys and a few open invoices; returns (number, pay URL)."""
    from payments.schemas import InvoiceCreate, InvoiceOut
    from regie.app import create_app

    other = await foreign_data(settings.database_url)
    if other is not None:
        raise DemoRefused(other)
    app: FastAPI = create_app(settings)
    out: list[tuple[str, str]] = []
    async with app.router.lifespan_context(app):
        db = app.state.db
        async with db.session() as s:
            for slug, (name, address, siret) in DEMO_SERVICES.items():
                if await get_service_by_slug(s, slug) is None:
                    await create_service(s, slug, name, address=address, identifier=siret)
                    await set_contact(s, slug, **DEMO_CONTACTS.get(slug, {}))
            for slug, role, raw in DEMO_KEYS:
                if await find_active_key(s, raw) is None:
                    svc = await get_service_by_slug(s, slug)
                    assert svc is not None
                    await create_key(s, svc, Role(role), live=False, raw=raw)
            await s.commit()
            urba = await get_service_by_slug(s, "urbanisme")
            civil = await get_service_by_slug(s, "etat-civil")
        assert urba is not None and civil is not None
        payments = app.state.payments
        samples = [
            (urba, DEMO_REFERENCES[0], "Instruction d'un permis de construire", 8500, None),
            (
                civil,
                DEMO_REFERENCES[1],
                "Copies intégrales d'actes de naissance",
                None,
                [
                    {
                        "description": "Copie intégrale d'acte de naissance",
                        "quantity": 2,
                        "unit_amount": 350,
                    },
                    {"description": "Frais d'envoi", "quantity": 1, "unit_amount": 150},
                ],
            ),
        ]
        for svc, ref, desc, amount, lines in samples:
            principal = Principal("demo", svc.id, svc.slug, Role.service)
            found = await payments.list_invoices(
                principal,
                limit=1,
                starting_after=None,
                status=None,
                reference=ref,
                created_gte=None,
                created_lt=None,
                metadata_key=None,
                metadata_value=None,
            )
            if found.data:
                inv = found.data[0]
            else:
                body = InvoiceCreate.model_validate(
                    {
                        "currency": "EUR",
                        "reference": ref,
                        "description": desc,
                        "payer": {"name": "Camille Martin"},
                        **({"amount": amount} if amount else {"lines": lines}),
                        "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
                    }
                )
                _, data = await payments.create_invoice(principal, body, None)
                inv = InvoiceOut.model_validate(data)
            out.append((inv.number, inv.payment_url))
    return out


_DATABASE_KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def database_shown(database_url: str) -> tuple[str, str]:
    """The database as the demo names it: its kind (``SQLite``, ``PostgreSQL``) and its URL
    with the password hidden (``postgresql+asyncpg://regie:***@db/regie``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(database_url)
    except ArgumentError:
        return "an unknown database", "(not a database URL)"
    backend = url.get_backend_name()
    return _DATABASE_KINDS.get(backend, backend), url.render_as_string(hide_password=True)


def ready_lines(
    base_url: str, database_url: str, invoices: list[tuple[str, str]], serving: bool = True
) -> list[str]:
    """What the demo prints once it listens: where the API, its reference and the finance
    workspace are, the database it uses (never its password), the demo's keys and a pay
    link per sample invoice. ``serving`` False (``--seed-only``): the same, under a first
    line that says nothing is served yet."""
    kind, shown = database_shown(database_url)
    first = (
        f"regie demo is ready ({kind} + simulator PSP; API and worker in one process)"
        if serving
        else f"regie demo is seeded ({kind}); nothing is served: `regie demo` serves it at"
    )
    lines = [
        "",
        first,
        f"  API:                {base_url}/v1/invoices",
        f"  API reference:      {base_url}/docs",
        f"  finance workspace:  {base_url}/finance/  (sign in with the finance key below)",
        f"  database:           {shown}",
        "",
        "  demo keys (test keys, demo only):",
    ]
    lines += [f"    {slug:<12} {role:<8} {raw}" for slug, role, raw in DEMO_KEYS]
    lines += ["", "  sample pay links (use card 4242 4242 4242 4242, any future date, any code):"]
    width = max((len(number) for number, _url in invoices), default=0)
    lines += [f"    {number:<{width}}  {url}" for number, url in invoices]
    lines.append("")
    return lines
