"""The in-process memory of API key lookups (``regie.kit.keycache``): a request whose key was
looked up less than a second ago costs no query, and a revoked key is refused within that
second everywhere, at once in the process that revoked it. The clock is injected: no sleep."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event, update

from regie.kit.keycache import KEY_CACHE_TTL, KeyCache, KnownKey
from regie.kit.tenancy import ApiKey, hash_key, revoke_key
from tests.conftest import Keys


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def count_key_queries(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "api_keys" in statement:
            seen.append(statement)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


async def test_a_key_is_looked_up_once_per_second_and_a_revocation_elsewhere_lands_within_it(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    clock = Clock()
    app.state.key_cache = KeyCache(clock=clock)
    h = keys.h(keys.urbanisme)
    with count_key_queries(app) as queries:
        assert (await client.get("/v1/invoices", headers=h)).status_code == 200
        assert (await client.get("/v1/invoices", headers=h)).status_code == 200
        assert len(queries) == 1  # the second request asked nothing about its key
        # revoked by another process (regie keys revoke): a plain UPDATE, no note to us
        async with app.state.db.session() as s:
            await s.execute(
                update(ApiKey)
                .where(ApiKey.key_hash == hash_key(keys.urbanisme))  # type: ignore[arg-type]
                .values(revoked_at=ApiKey.created_at)
            )
            await s.commit()
        clock.now += KEY_CACHE_TTL / 2
        assert (await client.get("/v1/invoices", headers=h)).status_code == 200  # still known
        clock.now += KEY_CACHE_TTL / 2
        r = await client.get("/v1/invoices", headers=h)
        assert r.status_code == 401, r.text  # its second is over: asked again, refused
        assert len(queries) == 2


async def test_a_key_revoked_in_this_process_is_refused_at_once(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    app.state.key_cache = KeyCache(clock=Clock())  # a clock that never moves
    h = keys.h(keys.etat_civil)
    assert (await client.get("/v1/invoices", headers=h)).status_code == 200
    async with app.state.db.session() as s:
        await revoke_key(s, keys.etat_civil)
        await s.commit()
    assert (await client.get("/v1/invoices", headers=h)).status_code == 401


async def test_an_unknown_key_is_remembered_as_unknown_and_refused_without_a_query(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    app.state.key_cache = KeyCache(clock=Clock())
    h = keys.h("rk_test_ser_" + "x" * 32)
    with count_key_queries(app) as queries:
        for _ in range(3):
            assert (await client.get("/v1/invoices", headers=h)).status_code == 401
        assert len(queries) == 1


def test_the_memory_is_bounded_and_keeps_only_hashes() -> None:
    cache = KeyCache(clock=Clock(), max_entries=2)
    known = KnownKey("key_1", "svc_1", "urbanisme", "service")
    cache.put("h1", known)
    cache.put("h2", None)
    assert cache.get("h1") == (True, known)
    cache.put("h3", known)  # full: starts again
    assert cache.get("h1") == (False, None)
    assert cache.get("h3") == (True, known)
