"""Per-year number series at the turn of the year, in the time zone each one uses:

- receipts (``2026-000001``): the year of the payment in the issuer's time zone
  (``services.timezone``), receipts/service.py ``on_invoice_paid``;
- credit notes (``AV-2026-000001``): the year of the refund in the issuer's time zone,
  receipts/service.py ``on_refund_succeeded``;
- invoice numbers (``URBANISME-2026-000001``): the year of creation in UTC (payments
  service, ``create_invoice``: ``utcnow().year``).

The clock is regie's one clock, ``regie.kit.database.utcnow``, stood still at chosen
instants. 00:30 on 1 January in Paris is 23:30 UTC on 31 December: the years differ.
"""

from __future__ import annotations

import datetime as dt
import types
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

import regie.kit.database as database
from receipts.models import Receipt
from regie.kit.tenancy import Service
from tests.conftest import Keys, create_invoice, pay

UTC = dt.UTC
# 23:30 UTC on 31 December 2025 = 00:30 on 1 January 2026 in Paris (UTC+1)
PARIS_NEW_YEAR = dt.datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
# 22:30 UTC on 31 December 2025 = 23:30 on 31 December 2025 in Paris
PARIS_OLD_YEAR = dt.datetime(2025, 12, 31, 22, 30, tzinfo=UTC)
# 01:30 UTC on 1 January 2026 = 22:30 on 31 December 2025 in Cayenne (UTC-3)
CAYENNE_OLD_YEAR = dt.datetime(2026, 1, 1, 1, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now: dt.datetime | None = None

    def set(self, instant: dt.datetime) -> None:
        self.now = instant


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Stands ``utcnow()`` still at ``clock.now`` (everything else keeps the real time)."""
    c = Clock()
    real = dt.datetime

    class StillDatetime(real):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> dt.datetime:  # type: ignore[override]
            if c.now is None:
                return real.now(tz)
            return c.now.astimezone(tz) if tz else c.now.replace(tzinfo=None)

    still = types.SimpleNamespace(**{k: getattr(dt, k) for k in dir(dt) if not k.startswith("_")})
    still.datetime = StillDatetime
    monkeypatch.setattr(database, "dt", still)
    return c


async def numbers(app: Any, kind: str) -> list[tuple[str, str]]:
    """(service slug, number) of the receipts or credit notes, in issue order."""
    async with app.state.db.session() as s:
        rows = await s.execute(
            select(Service.slug, Receipt.number)
            .join(Service, Service.id == Receipt.service_id)
            .where(Receipt.kind == kind)
            .order_by(Receipt.issued_at)
        )
        return [(a, b) for a, b in rows.all()]


async def set_timezone(app: Any, slug: str, zone: str) -> None:
    async with app.state.db.session() as s:
        await s.execute(update(Service).where(Service.slug == slug).values(timezone=zone))
        await s.commit()


async def paid_at(client: httpx.AsyncClient, app: Any, key: str, ref: str, clock: Clock,
                  at: dt.datetime) -> dict[str, Any]:  # fmt: skip
    clock.set(at - dt.timedelta(hours=1))
    inv = await create_invoice(client, key, reference=ref)
    clock.set(at)
    result = await pay(client, inv, apply=app)
    assert result.response.status_code == 303, result.response.text
    doc = (await client.get(f"/v1/invoices/{inv['id']}", headers=Keys.h(key))).json()
    assert doc["status"] == "paid"
    assert dt.datetime.fromisoformat(doc["paid_at"]) == at
    return inv


async def test_the_clock_stands_still(clock: Clock) -> None:
    clock.set(PARIS_NEW_YEAR)
    assert database.utcnow() == PARIS_NEW_YEAR
    assert database.utcnow().tzinfo is not None


async def test_a_receipt_takes_the_year_of_the_issuers_time_zone(
    client: httpx.AsyncClient, app: Any, keys: Keys, clock: Clock
) -> None:
    await set_timezone(app, "etat-civil", "America/Cayenne")
    await paid_at(client, app, keys.urbanisme, "P-OLD", clock, PARIS_OLD_YEAR)
    await paid_at(client, app, keys.urbanisme, "P-NEW", clock, PARIS_NEW_YEAR)
    await paid_at(client, app, keys.etat_civil, "C-OLD", clock, CAYENNE_OLD_YEAR)
    assert await numbers(app, "receipt") == [
        ("urbanisme", "2025-000001"),  # 23:30 on 31 December in Paris
        ("urbanisme", "2026-000001"),  # 00:30 on 1 January in Paris (still 2025 in UTC)
        ("etat-civil", "2025-000001"),  # 22:30 on 31 December in Cayenne (2026 in UTC)
    ]
    # the verification page gives the local date of the payment
    async with app.state.db.session() as s:
        receipts = list((await s.execute(select(Receipt).order_by(Receipt.issued_at))).scalars())
    issued = []
    for r in receipts:
        code = r.document["verify_url"].split("?c=")[1]
        v = await client.get(f"/v1/receipts/{r.number}/verify", params={"c": code})
        issued.append(v.json()["issued_on"])
    assert issued == ["2025-12-31", "2026-01-01", "2025-12-31"]


async def test_a_credit_note_takes_the_year_of_the_issuers_time_zone(
    client: httpx.AsyncClient, app: Any, keys: Keys, clock: Clock
) -> None:
    await set_timezone(app, "etat-civil", "America/Cayenne")
    early = dt.datetime(2025, 12, 1, 12, tzinfo=UTC)
    paris = await paid_at(client, app, keys.urbanisme, "P-1", clock, early)
    cayenne = await paid_at(client, app, keys.etat_civil, "C-1", clock, early)
    for at, key, inv in (
        (PARIS_OLD_YEAR, keys.urbanisme, paris),
        (PARIS_NEW_YEAR, keys.urbanisme, paris),
        (CAYENNE_OLD_YEAR, keys.etat_civil, cayenne),
    ):
        clock.set(at)
        r = await client.post(
            f"/v1/invoices/{inv['id']}/refunds", json={"amount": 100}, headers=Keys.h(key)
        )
        assert r.status_code == 201, r.text
    assert await numbers(app, "credit_note") == [
        ("urbanisme", "AV-2025-000001"),
        ("urbanisme", "AV-2026-000001"),
        ("etat-civil", "AV-2025-000001"),
    ]


async def test_invoice_numbers_take_the_utc_year(
    client: httpx.AsyncClient, app: Any, keys: Keys, clock: Clock
) -> None:
    got = []
    for i, at in enumerate(
        (
            dt.datetime(2025, 12, 31, 22, 30, tzinfo=UTC),
            PARIS_NEW_YEAR,  # already 2026 in Paris, still 2025 in UTC
            dt.datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
            dt.datetime(2026, 1, 1, 0, 30, tzinfo=UTC),
        )
    ):
        clock.set(at)
        got.append((await create_invoice(client, keys.urbanisme, reference=f"Y-{i}"))["number"])
    assert got == [
        "URBANISME-2025-000001",
        "URBANISME-2025-000002",
        "URBANISME-2025-000003",
        "URBANISME-2026-000001",
        "URBANISME-2026-000002",
    ]


async def test_one_town_halls_shared_series_turns_the_year_in_its_time_zone(
    client: httpx.AsyncClient, app: Any, keys: Keys, clock: Clock
) -> None:
    async with app.state.db.session() as s:
        await s.execute(
            update(Service)
            .where(Service.slug.in_(["urbanisme", "etat-civil"]))  # type: ignore[attr-defined]
            .values(identifier="21310555400017")
        )
        await s.commit()
    await paid_at(client, app, keys.urbanisme, "P-OLD", clock, PARIS_OLD_YEAR)
    await paid_at(
        client, app, keys.etat_civil, "C-OLD", clock, PARIS_OLD_YEAR + dt.timedelta(minutes=5)
    )
    await paid_at(client, app, keys.etat_civil, "C-NEW", clock, PARIS_NEW_YEAR)
    await paid_at(
        client, app, keys.urbanisme, "P-NEW", clock, PARIS_NEW_YEAR + dt.timedelta(minutes=5)
    )
    assert await numbers(app, "receipt") == [
        ("urbanisme", "2025-000001"),
        ("etat-civil", "2025-000002"),  # the town hall's one series, not the service's
        ("etat-civil", "2026-000001"),  # 00:30 on 1 January in Paris starts 2026
        ("urbanisme", "2026-000002"),
    ]
