"""Seed data for ``regie demo`` (development only)."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI

from regie.kit.auth import Principal
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, create_key, create_service, find_active_key, get_service_by_slug

# Fixed test keys so that the README's curl commands work as written. `regie demo` refuses
# to run in production, and these keys exist only in the demo database.
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


async def seed(settings: Settings) -> list[tuple[str, str]]:
    """Create the demo services, keys and a few open invoices; returns (number, pay URL)."""
    from payments.schemas import InvoiceCreate, InvoiceOut
    from regie.app import create_app

    app: FastAPI = create_app(settings)
    out: list[tuple[str, str]] = []
    async with app.router.lifespan_context(app):
        db = app.state.db
        async with db.session() as s:
            for slug, (name, address, siret) in DEMO_SERVICES.items():
                if await get_service_by_slug(s, slug) is None:
                    await create_service(s, slug, name, address=address, identifier=siret)
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
            (urba, "DEMO-PC-0001", "Instruction d'un permis de construire", 8500, None),
            (
                civil,
                "DEMO-EC-0001",
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
