"""Migration 0039: the references stored before they were kept in NFKC, and the text stored
before it was kept in NFC (an invoice's, its lines', a refund's reason), brought to the form
the code stores now.

A reference stored as it was sent ("ＡＢＣ-1", fullwidth) was missed by the list's
``reference`` filter (which looks for "ABC-1"), and a new invoice could take "ABC-1"
beside it: the unique index compares what is stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import unicodedata
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from payments.schemas import reference_key
from regie.kit.database import UTCDateTime
from regie.migrate import alembic_config, upgrade
from tests.conftest import PG_URL, Keys, create_invoice, invoice_body, pay
from tests.payments.test_bad_input import assert_rejected
from tests.payments.test_refunds import refund

migration = importlib.import_module("migrations.versions.0039_references_nfkc")

NFD = "NFD"
HELENE = unicodedata.normalize(NFD, "Hélène Dupré")
ETE = unicodedata.normalize(NFD, "Été-3")
LONG = "\ufdfa" * 6  # a letter (\w took it) whose NFKC is 18 characters: 108 > 100

services = sa.table(
    "services",
    *(sa.column(n, sa.String) for n in ("id", "slug", "name", "address", "identifier", "timezone")),
    sa.column("created_at", UTCDateTime()),
)
invoices = sa.table(
    "invoices",
    *(
        sa.column(n, sa.String)
        for n in (
            "id",
            "service_id",
            "number",
            "reference",
            "description",
            "currency",
            "status",
            "payer_name",
            "payer_address",
            "locale",
            "pay_token",
        )
    ),  # fmt: skip
    *(sa.column(n, sa.BigInteger) for n in ("amount_total", "amount_paid", "amount_refunded")),
    sa.column("metadata", sa.JSON),
    *(sa.column(n, UTCDateTime()) for n in ("expires_at", "created_at", "updated_at")),
)
lines = sa.table(
    "invoice_lines",
    *(sa.column(n, sa.String) for n in ("id", "invoice_id", "service_id", "description")),
    *(sa.column(n, sa.BigInteger) for n in ("position", "quantity", "unit_amount", "amount")),
)

# id: (service, reference stored before the rule, reference after the migration)
OLD = {
    "inv_01": ("svc_a", "\uff21\uff22\uff23-1", "ABC-1"),  # fullwidth
    "inv_02": ("svc_a", "\ufb01che-\u216b", "fiche-XII"),  # the ligature fi, Roman numeral XII
    "inv_03": ("svc_a", ETE, "Été-3"),  # decomposed: NFKC composes it
    "inv_04": ("svc_a", "DUP-1", "DUP-1"),  # already in NFKC: it holds DUP-1
    "inv_05": ("svc_a", "\uff24\uff35\uff30-1", "\uff24\uff35\uff30-1"),  # clash: kept
    "inv_06": ("svc_a", "\uff38\uff39-7", "XY-7"),  # the earliest of two: it takes XY-7
    "inv_07": ("svc_a", "\uff38Y-7", "\uff38Y-7"),  # the later: kept
    "inv_08": ("svc_b", "\uff21\uff22\uff23-1", "ABC-1"),  # another service's: no clash
    "inv_09": ("svc_a", LONG, LONG),  # too long in NFKC for the column: kept
}


def _rows(now: dt.datetime) -> list[dict[str, Any]]:
    return [
        dict(
            id=i,
            service_id=svc,
            number=f"F-{i}",
            reference=ref,
            description=unicodedata.normalize(NFD, "Redevance d'été"),
            currency="EUR",
            status="open",
            payer_name=HELENE if i == "inv_03" else "Camille Martin",
            payer_address=None,
            locale="fr",
            pay_token=f"tok_{i}",
            amount_total=2500,
            amount_paid=0,
            amount_refunded=0,
            metadata={},
            expires_at=now,
            created_at=now,
            updated_at=now,
        )  # fmt: skip
        for i, (svc, ref, _) in OLD.items()
    ]


async def _seed(url: str) -> None:
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for svc in ("svc_a", "svc_b"):
            await conn.execute(services.insert().values(
                id=svc, slug=svc, name=svc, address="", identifier="", timezone="Europe/Paris",
                created_at=now))  # fmt: skip
        await conn.execute(invoices.insert(), _rows(now))
        await conn.execute(lines.insert().values(
            id="li_1", invoice_id="inv_03", service_id="svc_a", position=1,
            description=unicodedata.normalize(NFD, "Créneau du marché"), quantity=1,
            unit_amount=2500, amount=2500))  # fmt: skip
    await engine.dispose()


async def _read(url: str) -> tuple[dict[str, tuple[str, str, str]], str, str]:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.text(
            "SELECT id, reference, payer_name, description FROM invoices"))).all()  # fmt: skip
        line = (await conn.execute(sa.text("SELECT description FROM invoice_lines"))).scalar_one()
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
    await engine.dispose()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}, line, str(version)


async def _database(url: str, *, drop: bool) -> None:
    base, name = url.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A database at migration 0038 (the previous head), empty."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    elif not PG_URL:
        pytest.skip("needs PostgreSQL: set REGIE_TEST_DATABASE_URL")
    else:
        url = f"{PG_URL}_m0039"  # a database of its own, dropped after
        asyncio.run(_database(url, drop=False))
    upgrade(url, "0038")
    yield url
    if request.param == "postgresql":
        asyncio.run(_database(url, drop=True))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "migrations.0039" and r.levelno == logging.WARNING]  # fmt: skip


def test_the_upgrade_brings_old_references_to_nfkc_and_keeps_a_clash_as_it_was(
    old_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = old_database
    asyncio.run(_seed(url))
    caplog.set_level(logging.INFO, logger="migrations.0039")
    upgrade(url, "0039")
    got, line, version = asyncio.run(_read(url))
    assert version == "0039"
    assert {i: ref for i, (ref, _, _) in got.items()} == {i: v[2] for i, v in OLD.items()}
    # text in NFC, on every invoice and line
    assert got["inv_03"][1] == unicodedata.normalize("NFC", HELENE)
    assert {d for _, _, d in got.values()} == {"Redevance d'été"}
    assert line == "Créneau du marché"
    # the invoices kept as they were are named by their ids, and nothing else
    clash, long = _warnings(caplog)
    assert clash.endswith(": inv_05, inv_07") and "2 invoices" in clash
    assert long.endswith(": inv_09")
    for form in ("DUP", "\uff24\uff35\uff30", "XY", "\uff38", "Hélène", HELENE, LONG):
        assert form not in clash + long
    (info,) = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO
               and r.name == "migrations.0039"]  # fmt: skip
    assert "5 references brought to NFKC, the text of 10 invoices, lines or refunds" in info

    # the downgrade changes nothing back; upgraded again, nothing changes and the same
    # invoices are reported (how an operator lists them again)
    from alembic import command

    command.downgrade(alembic_config(url), "0038")
    again, _, version = asyncio.run(_read(url))
    assert (again, version) == (got, "0038")
    caplog.clear()
    upgrade(url, "0039")
    assert asyncio.run(_read(url))[0] == got
    assert _warnings(caplog) == [clash, long]


def test_the_migration_reads_a_reference_as_the_code_does() -> None:
    """The migration keeps its own copy of the rule (the code's may change later): when it
    does, this fails, and the rows stored under the old rule need a new migration."""
    for form in ("\uff21\uff22\uff23-1", "\ufb01che-\u216b", ETE, " x² ", LONG, "AB\u200dC"):
        assert migration.reference_key(form) == reference_key(form), form


async def test_the_list_filter_finds_an_invoice_stored_before_nfkc(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme, reference="ABC-9")
    async with app.state.db.engine.begin() as conn:  # as a regie before the rule stored it
        await conn.execute(
            sa.text("UPDATE invoices SET reference = :r WHERE id = :id"),
            {"r": "\uff21\uff22\uff23-9", "id": inv["id"]},
        )

    async def listed(form: str) -> list[str]:
        r = await client.get(
            "/v1/invoices", params={"reference": form}, headers=Keys.h(keys.urbanisme)
        )
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["data"]]

    assert await listed("ABC-9") == []  # what the filter missed
    async with app.state.db.engine.begin() as conn:
        report = await conn.run_sync(migration.normalise)
    assert (report.references, report.clashes) == (1, [])
    for form in ("ABC-9", "\uff21\uff22\uff23-9", " ABC-9 "):
        assert await listed(form) == [inv["id"]], form
    # and a new invoice can no longer take its reference
    await assert_rejected(client, app, keys.urbanisme, invoice_body(reference="ABC-9"), 409,
                          "reference_already_used", "reference")  # fmt: skip


@pytest.mark.postgres
async def test_a_reference_taken_meanwhile_on_postgres_is_a_clash_not_a_failure(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    """An older regie still running during the upgrade may create an invoice with the form
    the migration gives another: that one invoice keeps its reference, the rest of its batch
    is given theirs, and the migration goes on."""
    a = await create_invoice(client, keys.urbanisme, reference="A-1")
    b = await create_invoice(client, keys.urbanisme, reference="B-1")
    taken = await create_invoice(client, keys.urbanisme, reference="B-2")
    async with app.state.db.engine.begin() as conn:
        for inv, old in ((a, "\uff21-1"), (b, "\uff22-1")):
            await conn.execute(sa.text("UPDATE invoices SET reference = :r WHERE id = :id"),
                               {"r": old, "id": inv["id"]})  # fmt: skip
        report = migration.Report()
        moves = [{"_id": a["id"], "_reference": "A-1"}, {"_id": b["id"], "_reference": "B-2"}]
        await conn.run_sync(migration._move, moves, report)
        assert (report.references, report.clashes) == (1, [b["id"]])
        refs = dict((await conn.execute(sa.text("SELECT id, reference FROM invoices"))).all())
    assert refs == {a["id"]: "A-1", b["id"]: "\uff22-1", taken["id"]: "B-2"}


async def test_the_migration_reads_and_writes_in_batches(
    client: httpx.AsyncClient, app: Any, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of two: every row is read once and written once, whichever batch it is in."""
    made = [await create_invoice(client, keys.urbanisme, reference=f"R-{n}") for n in range(5)]
    async with app.state.db.engine.begin() as conn:
        for n, inv in enumerate(made):
            await conn.execute(
                sa.text("UPDATE invoices SET reference = :r, payer_name = :p WHERE id = :id"),
                {"r": f"\uff32-{n}", "p": HELENE, "id": inv["id"]},
            )
    monkeypatch.setattr(migration, "BATCH", 2)
    async with app.state.db.engine.begin() as conn:
        report = await conn.run_sync(migration.normalise)
        rows = (await conn.execute(sa.text("SELECT id, reference, payer_name FROM invoices"))).all()
    assert (report.references, report.texts, report.clashes) == (5, 5, [])
    assert sorted((r[1], r[2]) for r in rows) == [
        (f"R-{n}", unicodedata.normalize("NFC", HELENE)) for n in range(5)
    ]
    async with app.state.db.engine.begin() as conn:  # run again: nothing left to change
        again = await conn.run_sync(migration.normalise)
    assert (again.references, again.texts, again.clashes) == (0, 0, [])


async def test_a_refunds_reason_stored_before_nfc_is_brought_to_it(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    r = await refund(client, keys.urbanisme, inv["id"], amount=1000, reason="Trop-perçu")
    assert r.status_code == 201, r.text
    async with app.state.db.engine.begin() as conn:  # as a regie before the rule stored it
        await conn.execute(
            sa.text("UPDATE refunds SET reason = :r WHERE id = :id"),
            {"r": unicodedata.normalize(NFD, "Trop-perçu"), "id": r.json()["id"]},
        )
        report = await conn.run_sync(migration.normalise)
    assert report.texts == 1
    listed = await client.get(f"/v1/invoices/{inv['id']}/refunds", headers=Keys.h(keys.urbanisme))
    assert [x["reason"] for x in listed.json()["data"]] == ["Trop-perçu"]
