"""Shared fixtures: a migrated database per backend, the app, a client, keys, helpers.

Every test that takes ``app`` (or ``client``) runs on SQLite and, when
``REGIE_TEST_DATABASE_URL`` points at PostgreSQL, on PostgreSQL too. Tests marked
``postgres`` run only there (concurrency and locking need a real server).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from regie.app import create_app
from regie.kit.settings import Settings
from regie.kit.tenancy import Role, create_key, create_service
from regie.migrate import upgrade

# CI (.ci/run) sets HYPOTHESIS_PROFILE=ci: the same examples on every run, so a push is
# judged on its own code; a developer's runs keep exploring new examples (and keep the
# ones that failed in .hypothesis/, replayed first next time)
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PG_URL = os.environ.get("REGIE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
BASE_URL = "http://testserver"


def _reset_postgres(url: str) -> None:
    async def go() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(go())


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One database per backend, migrated once per test session with Alembic."""
    urls: dict[str, str] = {}
    sqlite_path = tmp_path_factory.mktemp("db") / "regie-test.db"
    urls["sqlite"] = f"sqlite+aiosqlite:///{sqlite_path}"
    upgrade(urls["sqlite"])
    if PG_URL:
        _reset_postgres(PG_URL)
        upgrade(PG_URL)
        urls["postgresql"] = PG_URL
    return urls


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.node.get_closest_marker("postgres") and request.param != "postgresql":
        # a PostgreSQL-only test: its SQLite run is skipped, and says why
        pytest.skip(
            "PostgreSQL only: runs as its [postgresql] case"
            if PG_URL
            else "needs PostgreSQL: set REGIE_TEST_DATABASE_URL"
        )
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(
                pytest.mark.skip(reason="needs PostgreSQL: set REGIE_TEST_DATABASE_URL")
            )


async def _truncate(url: str) -> None:
    engine = create_async_engine(url)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if url.startswith("postgresql"):
            # the ledger refuses TRUNCATE (its triggers); a test database starts afresh:
            # triggers off for this transaction (the tests' role is a superuser)
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await conn.execute(text(f"DELETE FROM {name}"))
    await engine.dispose()


@pytest.fixture
def settings_factory(migrated_urls: dict[str, str], backend: str) -> Any:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": migrated_urls[backend],
            "base_url": BASE_URL,
            "psp": "simulator",
            "env": "development",
            "run_worker_in_process": False,
            # every test client comes from 127.0.0.1 and presses Pay freely: generous limits
            # (tests/regie/test_rate_limits.py sets low ones)
            "rate_limit_api_key": "100000/minute",
            "rate_limit_address": "100000/minute",
            "rate_limit_auth_failures": "100000/minute",
            "rate_limit_checkouts": "100000/hour",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory()  # type: ignore[no-any-return]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    await _truncate(settings.database_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        yield c


@dataclass
class Keys:
    urbanisme: str
    etat_civil: str
    finance: str
    admin: str

    @staticmethod
    def h(key: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", **extra}


@pytest.fixture
async def keys(app: Any) -> Keys:
    async with app.state.db.session() as s:
        urba = await create_service(s, "urbanisme", "Mairie – Urbanisme")
        civil = await create_service(s, "etat-civil", "Mairie – État civil")
        treso = await create_service(s, "tresorerie", "Régie de recettes")
        k1 = (await create_key(s, urba, Role.service, live=False))[1]
        k2 = (await create_key(s, civil, Role.service, live=False))[1]
        k3 = (await create_key(s, treso, Role.finance, live=False))[1]
        k4 = (await create_key(s, treso, Role.admin, live=False))[1]
        await s.commit()
    return Keys(k1, k2, k3, k4)


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": 2500,
        "currency": "EUR",
        "reference": "PC-2026-0001",
        "description": "Permis de construire",
        "payer": {"name": "Camille Martin", "email": "camille@example.org"},
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def create_invoice(client: httpx.AsyncClient, key: str, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/v1/invoices", json=invoice_body(**overrides), headers=Keys.h(key))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def token_of(invoice: dict[str, Any]) -> str:
    return str(invoice["payment_url"].rsplit("/", 1)[1])


@dataclass
class PayResult:
    checkout_id: str
    payment_id: str
    response: httpx.Response


async def start_checkout(client: httpx.AsyncClient, invoice: dict[str, Any]) -> tuple[str, str]:
    """Press Pay: returns (checkout id, simulator card page path)."""
    token = token_of(invoice)
    r = await client.post(f"/pay/{token}/checkout")
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    m = re.search(r"/_simulator/checkout/(cs_sim_\w+)$", location)
    assert m, location
    return m.group(1), location.removeprefix(BASE_URL)


async def two_checkouts_at_once(
    client: httpx.AsyncClient, app: Any, invoice: dict[str, Any]
) -> tuple[str, str]:
    """Two presses of Pay at the same moment (two tabs): the second reads the invoice's
    checkouts while the first is still being opened at the PSP, so it has none to close.
    The one way left to open two checkouts of an invoice (pressing Pay again later closes
    the first); both card pages' paths."""
    sim = app.state.payments.provider
    real, own = sim.create_checkout, "create_checkout" in vars(sim)
    second: list[str] = []

    async def the_other_tab_presses_meanwhile(*args: Any) -> Any:
        if not second:
            second.append("")  # (once: the second press goes straight to the PSP)
            second[0] = (await start_checkout(client, invoice))[1]
        return await real(*args)

    sim.create_checkout = the_other_tab_presses_meanwhile
    try:
        first = (await start_checkout(client, invoice))[1]
    finally:
        if own:
            sim.create_checkout = real
        else:
            del sim.create_checkout  # the class's own again
    return first, second[0]


async def pay_twice(client: httpx.AsyncClient, app: Any, invoice: dict[str, Any]) -> None:
    """An invoice paid by two checkouts opened at once, both paid, their events applied:
    the second payment is an overpayment."""
    for path in await two_checkouts_at_once(client, app, invoice):
        await client.post(
            path, data={"card_number": "4242424242424242", "expiry": "12/39", "cvc": "123"}
        )
    await app.state.applier.process_batch()


async def pay(
    client: httpx.AsyncClient,
    invoice: dict[str, Any],
    card: str = "4242 4242 4242 4242",
    *,
    apply: Any = None,
) -> PayResult:
    """Drive the citizen flow through the pages and the simulator's card page."""
    checkout_id, path = await start_checkout(client, invoice)
    r = await client.post(path, data={"card_number": card, "expiry": "12/39", "cvc": "123"})
    payment_id = ""
    if r.status_code == 303:
        m = re.search(r"payment=(pay_\w+)", r.headers["location"])
        payment_id = m.group(1) if m else ""
    if apply is not None:
        await apply.state.applier.process_batch()
    return PayResult(checkout_id, payment_id, r)


@pytest.fixture
def tmp_home(tmp_path: Path) -> Iterator[Path]:
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(tmp_path)
    yield tmp_path
    if old is not None:
        os.environ["HOME"] = old
