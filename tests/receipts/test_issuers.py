"""Services of one legal entity (one SIREN) are one issuer: one gap-free series of receipt
numbers (and one of credit notes), and verification URLs that name the issuer."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from receipts.document import verify_url
from receipts.issuers import issuer_key, siren_of
from receipts.models import Receipt
from regie.kit.tenancy import Service, TenancyError, create_service
from tests.conftest import BASE_URL, Keys, create_invoice, pay

TOWN_HALL = "21310555400017"  # SIRET of the town hall: SIREN 213 105 554


@pytest.mark.parametrize(
    ("identifier", "siren"),
    [
        ("21310555400017", "213105554"),
        ("213 105 554 00025", "213105554"),
        ("213105554", "213105554"),
        ("213\u00a0105\u00a0554", "213105554"),
        ("", None),
        ("FR40303265045", None),
        ("1234", None),
        ("2131055540001", None),  # 13 digits: neither
    ],
)
def test_the_siren_is_read_from_a_siret_or_a_siren(identifier: str, siren: str | None) -> None:
    assert siren_of(identifier) == siren


def test_the_issuer_is_the_siren_or_else_the_service() -> None:
    assert issuer_key("21310555400017", "urbanisme") == "213105554"
    assert issuer_key("", "urbanisme") == "urbanisme"


def test_the_verify_url_names_the_issuer_in_its_path() -> None:
    assert verify_url("https://x.fr/", "213105554", "2026-000001", "7KQ2M9XH4P") == (
        "https://x.fr/receipts/verify/213105554/2026-000001?c=7KQ2M9XH4P"
    )


async def same_legal_entity(app: Any, *slugs: str, identifier: str = TOWN_HALL) -> None:
    async with app.state.db.session() as s:
        await s.execute(
            update(Service).where(Service.slug.in_(slugs)).values(identifier=identifier)
        )  # type: ignore[attr-defined]
        await s.commit()


async def issued(app: Any) -> list[Receipt]:
    async with app.state.db.session() as s:
        return list((await s.execute(select(Receipt).order_by(Receipt.issued_at))).scalars())


async def test_two_services_of_one_town_hall_share_one_series_and_the_issuer(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await same_legal_entity(app, "urbanisme", "etat-civil")
    a = await create_invoice(client, keys.urbanisme, reference="A")
    b = await create_invoice(client, keys.etat_civil, reference="B")
    c = await create_invoice(client, keys.urbanisme, reference="C")
    for inv in (a, b, c):
        await pay(client, inv, apply=app)
    receipts = await issued(app)
    year = dt.datetime.now(dt.UTC).year
    assert [r.number[-6:] for r in receipts] == ["000001", "000002", "000003"]
    assert {r.issuer for r in receipts} == {"213105554"}
    for r in receipts:
        url = r.document["verify_url"]
        assert url.startswith(f"{BASE_URL}/receipts/verify/213105554/{year}-"), url
        path, code = url.removeprefix(BASE_URL).split("?c=")
        page = await client.get(path, params={"c": code})
        assert page.status_code == 200 and "authentique" in page.text
        assert "SIREN 213 105 554" in page.text  # the legal entity that issued it
        # the old form, without the issuer, still answers (QR codes already printed)
        old = await client.get(f"/receipts/verify/{r.number}", params={"c": code})
        assert old.status_code == 200
        api = await client.get(f"/v1/receipts/213105554/{r.number}/verify", params={"c": code})
        assert api.json()["status"] == "genuine"
        assert api.json()["issuer_id"] == "213105554"
        # another issuer's path does not find it, even with the right code
        other = await client.get(f"/v1/receipts/etat-civil/{r.number}/verify", params={"c": code})
        assert other.json()["status"] == "unknown"
        assert (
            await client.get(f"/receipts/verify/999999999/{r.number}", params={"c": code})
        ).status_code == 404
    # credit notes share the entity's own series too
    for inv in (a, b):
        key = keys.urbanisme if inv is a else keys.etat_civil
        r = await client.post(
            f"/v1/invoices/{inv['id']}/refunds",
            json={"amount": 100},
            headers=Keys.h(key, **{"Idempotency-Key": inv["id"]}),
        )
        assert r.status_code in (201, 202), r.text
    notes = [r for r in await issued(app) if r.kind == "credit_note"]
    assert [n.number for n in notes] == [f"AV-{year}-000001", f"AV-{year}-000002"]
    assert "/receipts/verify/213105554/AV-" in notes[1].document["verify_url"]


async def test_a_service_without_a_siren_keeps_its_own_series(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    await same_legal_entity(app, "urbanisme")
    for key, ref in ((keys.urbanisme, "A"), (keys.etat_civil, "B")):
        await pay(client, await create_invoice(client, key, reference=ref), apply=app)
    receipts = await issued(app)
    assert [(r.issuer, r.number[-6:]) for r in receipts] == [
        ("213105554", "000001"),
        ("etat-civil", "000001"),
    ]
    assert "/receipts/verify/etat-civil/" in receipts[1].document["verify_url"]


async def test_the_demo_shows_two_services_of_the_town_hall_sharing_one_series(
    client: httpx.AsyncClient, app: Any, settings: Any
) -> None:
    from regie.demo import DEMO_KEYS, seed

    await seed(settings)
    keys = {slug: raw for slug, _, raw in DEMO_KEYS}
    for slug in ("urbanisme", "etat-civil"):
        found = await client.get("/v1/invoices", headers=Keys.h(keys[slug]))
        (inv,) = found.json()["data"]
        await pay(client, inv, apply=app)
    receipts = await issued(app)
    assert [r.number[-6:] for r in receipts] == ["000001", "000002"]
    assert {r.issuer for r in receipts} == {"213105554"}


async def test_a_service_named_by_nine_digits_needs_a_siren(
    app: Any,
) -> None:
    """Without a SIREN a service issues its receipts in its own name, its slug, with its own
    series: nine digits there are a SIREN's name. A service "213105554" without a SIREN and
    the town hall's services (SIREN 213 105 554) both numbered 2026-000001 under issuer
    213105554, and the second payment's transaction failed on the receipts' unique issuer
    and number: the payer was charged and the invoice stayed open."""
    async with app.state.db.session() as s:
        for identifier in ("", "FR40303265045", "1234"):
            with pytest.raises(TenancyError) as refused:
                await create_service(s, "213105554", identifier=identifier)
            assert "SIREN" in str(refused.value)
        # its own SIREN (the issuer it names anyway), or another's (then the issuer is that
        # one, and the slug names nothing); a name with a letter or a dash is no SIREN
        for slug, identifier in (
            ("213105554", TOWN_HALL),
            ("123456789", TOWN_HALL),
            ("21310555a", ""),
            ("213-105-554", ""),
            ("2131055540", ""),
        ):
            await create_service(s, slug, identifier=identifier)
