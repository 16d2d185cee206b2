"""Rate limits: per API key, per client address on public pages, per invoice for checkouts.

Every test runs on SQLite (counts in memory) and PostgreSQL (counts shared through
``rate_limit_counters``); the clock is a fake one, moved by hand, so a window ends without
sleeping.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text

from payments.models import Payment
from regie.app import create_app
from regie.kit.database import Database
from regie.kit.ratecounters import SharedCounters
from regie.kit.ratelimit import RateLimits, client_address, parse_networks
from regie.kit.settings import Settings
from tests.conftest import BASE_URL, Keys, create_invoice, token_of
from tests.finance.conftest import csrf_of

PROBER = {"X-Forwarded-For": "203.0.113.7"}  # another client, through the trusted 127.0.0.1
OTHER = {"X-Forwarded-For": "198.51.100.23"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(  # type: ignore[no-any-return]
        rate_limit_api_key="3/minute",
        rate_limit_address="5/minute",
        rate_limit_auth_failures="2/minute",
        rate_limit_checkouts="2/hour",
    )


@pytest.fixture
def clock(app: Any) -> FakeClock:
    fake = FakeClock()
    app.state.rate_limits = RateLimits.build(app.state.settings, app.state.db, clock=fake)
    return fake


def assert_api_429(r: httpx.Response, retry_after: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == str(retry_after)
    assert r.json() == {
        "error": {
            "type": "rate_limit_error",
            "code": "rate_limited",
            "message": f"Too many requests. Retry after {retry_after} seconds.",
        }
    }


async def test_an_api_key_over_its_limit_gets_429_until_its_window_ends(
    client: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    for _ in range(3):
        assert (await client.get("/v1/invoices", headers=Keys.h(keys.urbanisme))).status_code == 200
    assert_api_429(await client.get("/v1/invoices", headers=Keys.h(keys.urbanisme)), 60)
    # per key: another key (even of the same address) is not affected
    assert (await client.get("/v1/invoices", headers=Keys.h(keys.etat_civil))).status_code == 200
    clock.now += 59.5
    assert_api_429(await client.get("/v1/invoices", headers=Keys.h(keys.urbanisme)), 1)
    clock.now += 0.5  # the window is over
    assert (await client.get("/v1/invoices", headers=Keys.h(keys.urbanisme))).status_code == 200


async def test_an_over_limit_key_writes_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys, clock: FakeClock
) -> None:
    for i in range(3):
        await create_invoice(client, keys.urbanisme, reference=f"R-{i}")
    r = await client.post(
        "/v1/invoices", json={"amount": 100, "currency": "EUR"}, headers=Keys.h(keys.urbanisme)
    )
    assert_api_429(r, 60)
    async with app.state.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM invoices"))).scalar_one() == 3


async def test_probing_for_api_keys_is_stopped_per_address(
    client: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    for guess in ("rk_test_aaaa", "rk_test_bbbb"):
        r = await client.get("/v1/invoices", headers=Keys.h(guess, **PROBER))
        assert r.status_code == 401
    r = await client.get("/v1/invoices", headers=Keys.h("rk_test_cccc", **PROBER))
    assert_api_429(r, 60)
    # another address still signs in
    r = await client.get("/v1/invoices", headers=Keys.h(keys.urbanisme, **OTHER))
    assert r.status_code == 200
    clock.now += 60
    r = await client.get("/v1/invoices", headers=Keys.h("rk_test_dddd", **PROBER))
    assert r.status_code == 401


async def test_probing_keys_on_the_finance_login_counts_against_the_address(
    client: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    page = await client.get("/finance/login", headers=OTHER)
    data = {"csrf": csrf_of(page.text)}
    for guess in ("rk_test_aaaa", "rk_test_bbbb"):
        r = await client.post("/finance/login", data={**data, "key": guess}, headers=OTHER)
        assert r.status_code == 401
    r = await client.post("/finance/login", data={**data, "key": keys.finance}, headers=OTHER)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "60"
    assert "Trop de demandes" in r.text
    clock.now += 60
    r = await client.post("/finance/login", data={**data, "key": keys.finance}, headers=OTHER)
    assert r.status_code == 303


async def test_a_public_page_over_the_address_limit_gets_a_bilingual_429_page(
    client: httpx.AsyncClient, keys: Keys, clock: FakeClock
) -> None:
    token = token_of(await create_invoice(client, keys.urbanisme))
    for _ in range(5):
        assert (await client.get(f"/pay/{token}", headers=PROBER)).status_code == 200
    r = await client.get(f"/pay/{token}", headers=PROBER)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "60"
    assert r.headers["content-type"].startswith("text/html")
    assert "Trop de demandes" in r.text
    assert "Too many requests" in r.text
    assert "Réessayez dans 1\u00a0min" in r.text
    assert "Try again in 1\u00a0min" in r.text
    # the receipt check counts against the same address, in the API's shape under /v1
    assert_api_429(await client.get("/v1/receipts/2026-000001/verify?c=X", headers=PROBER), 60)
    assert (await client.get("/receipts/verify/2026-000001?c=X", headers=PROBER)).status_code == 429
    assert (await client.get("/finance/login", headers=PROBER)).status_code == 429
    # per address: another citizen is served
    assert (await client.get(f"/pay/{token}", headers=OTHER)).status_code == 200
    clock.now += 60
    assert (await client.get(f"/pay/{token}", headers=PROBER)).status_code == 200


async def test_an_invoice_opens_at_most_n_checkouts_per_window(
    client: httpx.AsyncClient, app: Any, keys: Keys, clock: FakeClock
) -> None:
    invoice = await create_invoice(client, keys.urbanisme)
    token = token_of(invoice)
    for _ in range(2):
        assert (await client.post(f"/pay/{token}/checkout")).status_code == 303
    # from another address too: the limit is the invoice's
    r = await client.post(f"/pay/{token}/checkout", headers=OTHER)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "3600"
    assert "Ce paiement a été tenté de nombreuses fois" in r.text
    assert "This payment has been tried many times" in r.text
    async with app.state.db.session() as s:
        count = select(func.count()).select_from(Payment).where(Payment.invoice_id == invoice["id"])
        assert (await s.execute(count)).scalar_one() == 2  # no third payment row
    # another invoice is not affected
    other = token_of(await create_invoice(client, keys.urbanisme, reference="PC-2"))
    assert (await client.post(f"/pay/{other}/checkout")).status_code == 303
    clock.now += 3600
    assert (await client.post(f"/pay/{token}/checkout")).status_code == 303


@pytest.mark.postgres
async def test_two_server_processes_share_the_limits(
    app: Any, client: httpx.AsyncClient, keys: Keys, clock: FakeClock, settings: Settings
) -> None:
    second = create_app(settings)  # another process, on the same database
    async with second.router.lifespan_context(second):
        second.state.rate_limits = RateLimits.build(settings, second.state.db, clock=clock)
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as other:
            h = Keys.h(keys.urbanisme)
            assert (await client.get("/v1/invoices", headers=h)).status_code == 200
            assert (await other.get("/v1/invoices", headers=h)).status_code == 200
            assert (await client.get("/v1/invoices", headers=h)).status_code == 200
            assert_api_429(await other.get("/v1/invoices", headers=h), 60)
            assert_api_429(await client.get("/v1/invoices", headers=h), 60)

            token = token_of(await create_invoice(client, keys.etat_civil))
            assert (await client.post(f"/pay/{token}/checkout", headers=OTHER)).status_code == 303
            assert (await other.post(f"/pay/{token}/checkout", headers=OTHER)).status_code == 303
            r = await client.post(f"/pay/{token}/checkout", headers=OTHER)
            assert r.status_code == 429

            for c in (client, other, client, other, client):
                assert (await c.get(f"/pay/{token}", headers=PROBER)).status_code == 200
            assert (await other.get(f"/pay/{token}", headers=PROBER)).status_code == 429

            clock.now += 60  # the windows end for both
            assert (await other.get("/v1/invoices", headers=h)).status_code == 200
            assert (await client.get(f"/pay/{token}", headers=PROBER)).status_code == 200


@pytest.mark.postgres
async def test_shared_counters_push_every_batch_and_learn_the_others_hits(app: Any) -> None:
    clock = FakeClock()
    one = SharedCounters(app.state.db, batch=10, clock=clock)
    two = SharedCounters(app.state.db, batch=10, clock=clock)

    async def stored() -> int:
        async with app.state.db.engine.connect() as conn:
            row = await conn.execute(text("SELECT count FROM rate_limit_counters WHERE key='k'"))
            return int(row.scalar_one())

    assert await one.incr("k", 60) == 1  # a window's first hit is pushed at once
    for _ in range(9):
        await one.incr("k", 60)
    assert await one.get("k") == 10
    assert await stored() == 1  # ten hits here, one told to the others
    assert await one.incr("k", 60) == 11  # ten since the last push: a batch, pushed
    assert await stored() == 11
    assert await two.incr("k", 60) == 12  # the other process starts from the shared total
    clock.now += 60
    assert await two.incr("k", 60) == 1  # a new window, in the table too
    assert await stored() == 1


def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 1234), "headers": headers}


def test_the_client_address_believes_forwarded_for_only_from_trusted_proxies() -> None:
    trusted = parse_networks("127.0.0.1, 10.0.0.0/8")
    assert client_address(scope("203.0.113.7", "1.2.3.4"), trusted) == "203.0.113.7"
    assert client_address(scope("127.0.0.1", "1.2.3.4"), trusted) == "1.2.3.4"
    # read from the right: what the client wrote before the proxies' hops is not believed
    assert client_address(scope("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9"), trusted) == "1.2.3.4"
    assert client_address(scope("127.0.0.1", "garbage, 1.2.3.4"), trusted) == "1.2.3.4"
    assert client_address(scope("127.0.0.1", "1.2.3.4, garbage"), trusted) == "127.0.0.1"
    assert client_address(scope("127.0.0.1"), trusted) == "127.0.0.1"
    # no trusted proxy (REGIE_TRUSTED_PROXIES=""): the header is never read
    assert client_address(scope("127.0.0.1", "1.2.3.4"), parse_networks("")) == "127.0.0.1"
    # an IPv6 client counts as its /64
    assert client_address(scope("2001:db8:1:2:aaaa::1"), trusted) == "2001:db8:1:2::/64"


def test_an_ipv4_client_seen_through_a_dual_stack_socket_counts_as_itself() -> None:
    """A server or a proxy listening on a dual-stack socket (``--host ::``, nginx's
    ``listen [::]``) sees an IPv4 client as ``::ffff:a.b.c.d``. Counted as an IPv6 /64,
    every IPv4 client was one address, ``::/64``: one caller past
    REGIE_RATE_LIMIT_AUTH_FAILURES had every IPv4 client refused (429) for every key, and
    the public pages' limit (pay links, receipt verification) was shared by them all."""
    trusted = parse_networks("127.0.0.1, 10.0.0.0/8")
    assert client_address(scope("::ffff:203.0.113.7"), trusted) == "203.0.113.7"
    assert client_address(scope("::ffff:198.51.100.9"), trusted) == "198.51.100.9"
    # a trusted proxy seen so is still trusted, and the hops it forwards are read the same way
    assert client_address(scope("::ffff:127.0.0.1", "::ffff:1.2.3.4"), trusted) == "1.2.3.4"
    hops = "6.6.6.6, ::ffff:1.2.3.4, ::ffff:10.0.0.9"
    assert client_address(scope("10.0.0.2", hops), trusted) == "1.2.3.4"


def test_limits_are_checked_when_settings_load(settings_factory: Any) -> None:
    with pytest.raises(ValidationError, match="not a rate limit"):
        settings_factory(rate_limit_address="lots")
    with pytest.raises(ValidationError, match="at least 1"):
        settings_factory(rate_limit_checkouts="0/hour")
    with pytest.raises(ValidationError, match="REGIE_TRUSTED_PROXIES"):
        settings_factory(trusted_proxies="127.0.0.1, nowhere")
    assert settings_factory(rate_limit_api_key="OFF").rate_limit_api_key == ""


async def test_a_limit_set_off_never_refuses(app: Any, settings_factory: Any) -> None:
    limits = RateLimits.build(settings_factory(rate_limit_api_key="off"), app.state.db)
    for _ in range(50):
        assert await limits.api_key.hit("key_1") is None


def test_regie_serve_gives_uvicorn_the_same_trusted_proxies(settings_factory: Any) -> None:
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from regie.serving import proxies  # what `regie serve` and `regie demo` give uvicorn

    assert proxies(settings_factory(trusted_proxies="")) == {
        "proxy_headers": False,
        "forwarded_allow_ips": None,
    }
    options = proxies(settings_factory(trusted_proxies="127.0.0.1, 10.0.0.0/8"))
    assert options == {"proxy_headers": True, "forwarded_allow_ips": ["127.0.0.1", "10.0.0.0/8"]}
    hosts = ProxyHeadersMiddleware(None, options["forwarded_allow_ips"]).trusted_hosts  # type: ignore[arg-type]
    assert "10.1.2.3" in hosts
    assert "203.0.113.7" not in hosts


async def test_shared_counters_count_here_while_the_database_is_unreachable(caplog: Any) -> None:
    """PostgreSQL down (a restart, a failover): each process keeps counting its own hits,
    so a limit still holds per process and never refuses everyone, tries to push again on
    every hit, and warns the operator once per failed push."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/regie_nowhere")
    counters = SharedCounters(db, batch=10, clock=FakeClock())
    caplog.set_level(logging.WARNING, logger="regie.ratelimit")
    try:
        assert [await counters.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        assert await counters.get("k") == 3
    finally:
        await db.dispose()
    warned = [r for r in caplog.records if r.name == "regie.ratelimit"]
    assert [r.getMessage() for r in warned] == ["rate limit counters not shared"] * 3
    assert {r.error_class for r in warned} == {"ConnectionRefusedError"}
