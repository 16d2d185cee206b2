"""Services, API keys and bearer authentication on their own (``regie.kit.tenancy`` and
``regie.kit.auth``): a bare SQLite file holding only the two tables, and requests made
of what ``authenticate`` reads. The route-by-route matrix of roles and tenants is in
tests/test_tenancy_matrix.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from regie.kit.auth import Principal, authenticate, require_role
from regie.kit.database import Database
from regie.kit.errors import ApiError
from regie.kit.tenancy import (
    ApiKey,
    Role,
    Service,
    TenancyError,
    create_key,
    create_service,
    find_active_key,
    generate_key,
    get_service_by_slug,
    hash_key,
    is_test_key,
    revoke_key,
    set_statement_descriptor_suffix,
)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    async with database.engine.begin() as conn:
        tables = [SQLModel.metadata.tables[m.__tablename__] for m in (Service, ApiKey)]
        await conn.run_sync(SQLModel.metadata.create_all, tables=tables)
    yield database
    await database.dispose()


# ------------------------------------------------------------------ keys (pure)
@pytest.mark.parametrize(
    ("role", "live", "prefix"),
    [
        (Role.service, False, "rk_test_ser_"),
        (Role.finance, True, "rk_live_fin_"),
        (Role.admin, True, "rk_live_adm_"),
    ],
)
def test_a_key_names_its_mode_and_role_and_carries_192_random_bits(
    role: Role, live: bool, prefix: str
) -> None:
    raws = {generate_key(role, live) for _ in range(10)}
    assert len(raws) == 10
    for raw in raws:
        assert raw.startswith(prefix)
        token = raw.removeprefix(prefix)
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token), raw
        assert len(base64.urlsafe_b64decode(token)) == 24
        assert is_test_key(raw) is (not live)


def test_a_key_is_stored_as_its_sha256() -> None:
    assert hash_key("rk_live_ser_abc") == hashlib.sha256(b"rk_live_ser_abc").hexdigest()
    assert is_test_key("rk_test_") and not is_test_key("rk_live_ser_x")
    assert not is_test_key("xrk_test_ser_x") and not is_test_key("RK_TEST_ser_x")


# ------------------------------------------------------------------ services and keys
async def test_a_service_is_made_once_with_a_valid_slug(db: Database) -> None:
    async with db.session() as s:
        svc = await create_service(
            s, "urbanisme", "Urbanisme", address="1 place", identifier="21750001600019"
        )
        bare = await create_service(s, "cantine")
        await s.commit()
    assert (svc.slug, svc.name, svc.address, svc.identifier, svc.timezone) == (
        "urbanisme",
        "Urbanisme",
        "1 place",
        "21750001600019",
        "Europe/Paris",
    )
    assert svc.id.startswith("svc_") and svc.id != bare.id
    assert (bare.name, bare.address, bare.identifier) == ("cantine", "", "")
    assert svc.created_at.tzinfo is not None
    async with db.session() as s:
        other = await create_service(s, "noumea", timezone="Pacific/Noumea")
        assert other.timezone == "Pacific/Noumea"
        found = await get_service_by_slug(s, "urbanisme")
        assert found is not None and found.id == svc.id
        assert await get_service_by_slug(s, "nobody") is None
        with pytest.raises(TenancyError) as taken:
            await create_service(s, "urbanisme", "Again")
        assert str(taken.value) == "service 'urbanisme' already exists"


async def test_a_services_statement_descriptor_suffix_is_set_by_its_slug(db: Database) -> None:
    async with db.session() as s:
        await create_service(s, "urbanisme")
        await create_service(s, "cantine")
        await s.commit()
    async with db.session() as s:
        svc = await set_statement_descriptor_suffix(s, "urbanisme", "URBA")
        assert (svc.slug, svc.statement_descriptor_suffix) == ("urbanisme", "URBA")
        await s.commit()
    async with db.session() as s:
        found = await get_service_by_slug(s, "urbanisme")
        other = await get_service_by_slug(s, "cantine")
        assert found is not None and found.statement_descriptor_suffix == "URBA"
        assert other is not None and other.statement_descriptor_suffix is None
        cleared = await set_statement_descriptor_suffix(s, "urbanisme", "")
        assert cleared.statement_descriptor_suffix is None  # "" removes it
        with pytest.raises(TenancyError) as unknown:
            await set_statement_descriptor_suffix(s, "nobody", "X")
        assert str(unknown.value) == "no service named 'nobody'"


@pytest.mark.parametrize("slug", ["a", "A-b", "-ab", "ab_c", "é-t-é", "a" * 41, "ab\n", ""])
async def test_a_slug_is_2_to_40_lower_case_letters_digits_or_dashes(
    db: Database, slug: str
) -> None:
    async with db.session() as s:
        with pytest.raises(TenancyError) as refused:
            await create_service(s, slug)
    assert str(refused.value) == "service names are 2-40 lower-case letters, digits or dashes"


@pytest.mark.parametrize("slug", ["ab", "a" * 40, "0-9", "ville-de-paris-2"])
async def test_good_slugs(db: Database, slug: str) -> None:
    async with db.session() as s:
        assert (await create_service(s, slug)).slug == slug


async def test_a_key_is_shown_once_stored_hashed_and_found_until_revoked(db: Database) -> None:
    async with db.session() as s:
        svc = await create_service(s, "urbanisme")
        key, raw = await create_key(s, svc, Role.finance, live=True)
        given, given_raw = await create_key(s, svc, Role.service, live=False, raw="rk_test_ser_x")
        await s.commit()
    assert raw.startswith("rk_live_fin_") and given_raw == "rk_test_ser_x"
    assert (key.service_id, key.role, key.prefix, key.key_hash) == (
        svc.id,
        "finance",
        raw[:12],
        hash_key(raw),
    )
    assert key.id.startswith("key_") and key.revoked_at is None
    assert (given.role, given.prefix, given.key_hash) == (
        "service",
        "rk_test_ser_",
        hash_key(given_raw),
    )
    async with db.session() as s:
        stored = (await s.execute(select(ApiKey.key_hash))).scalars().all()
        assert raw not in stored and given_raw not in stored
        found = await find_active_key(s, raw)
        assert found is not None
        assert (found[0].id, found[1].id, found[1].slug) == (key.id, svc.id, "urbanisme")
        assert await find_active_key(s, raw + "x") is None
        assert await find_active_key(s, key.id) is None

    async with db.session() as s:
        revoked = await revoke_key(s, raw)
        await s.commit()
    assert revoked.id == key.id and revoked.revoked_at is not None
    async with db.session() as s:
        assert await find_active_key(s, raw) is None
        found = await find_active_key(s, given_raw)
        assert found is not None and found[0].id == given.id


async def test_a_key_is_revoked_by_its_id_or_by_itself_and_stays_revoked_when_it_was(
    db: Database,
) -> None:
    async with db.session() as s:
        svc = await create_service(s, "urbanisme")
        key, raw = await create_key(s, svc, Role.service, live=True)
        await s.commit()
    async with db.session() as s:
        first = await revoke_key(s, key.id)
        await s.commit()
    assert first.revoked_at is not None
    async with db.session() as s:
        again = await revoke_key(s, raw)
        await s.commit()
    assert again.revoked_at == first.revoked_at
    async with db.session() as s:
        row = (await s.execute(select(ApiKey))).scalar_one()
        assert row.revoked_at == first.revoked_at
        for unknown in ("key_nope", raw + "x", hash_key(raw)):
            with pytest.raises(TenancyError) as missing:
                await revoke_key(s, unknown)
            assert str(missing.value) == "no such key"


@pytest.mark.parametrize(
    ("live", "raw"),
    [(False, None), (True, "rk_test_ser_given"), (False, "rk_live_ser_given")],
)
async def test_production_makes_live_keys_only(db: Database, live: bool, raw: str | None) -> None:
    async with db.session() as s:
        svc = await create_service(s, "urbanisme")
        with pytest.raises(TenancyError) as refused:
            await create_key(s, svc, Role.service, live=live, raw=raw, production=True)
        assert str(refused.value) == (
            "production creates live keys only (rk_live_…), never a test key"
        )
        assert (await s.execute(select(ApiKey))).first() is None
        key, made = await create_key(s, svc, Role.service, live=True, production=True)
        assert made.startswith("rk_live_ser_") and key.key_hash == hash_key(made)
        # outside production a test key is made on request
        _, test_key = await create_key(s, svc, Role.service, live=False)
        assert test_key.startswith("rk_test_ser_")


# ------------------------------------------------------------------ authenticate
def request(db: Database, authorization: str | None, env: str = "development") -> Any:
    headers = {} if authorization is None else {"authorization": authorization}
    state = SimpleNamespace(db=db, settings=SimpleNamespace(env=env))
    return SimpleNamespace(
        headers=headers, app=SimpleNamespace(state=state), state=SimpleNamespace()
    )


async def keys_of(db: Database) -> dict[str, tuple[str, str]]:
    async with db.session() as s:
        svc = await create_service(s, "urbanisme")
        out = {}
        for role, live in ((Role.service, False), (Role.finance, True), (Role.admin, True)):
            key, raw = await create_key(s, svc, role, live=live)
            out[role.value] = (key.id, raw)
        await s.commit()
    return out


def refusal(err: pytest.ExceptionInfo[ApiError]) -> tuple[int, str, str, Any]:
    e = err.value
    return e.status, e.code, e.message, e.headers


async def test_a_bearer_key_authenticates_its_service_and_role(db: Database) -> None:
    keys = await keys_of(db)
    for role, (key_id, raw) in keys.items():
        for header in (f"Bearer {raw}", f"bearer {raw}", f"BEARER   {raw}  "):
            req = request(db, header)
            principal = await authenticate(req)
            async with db.session() as s:
                svc = await get_service_by_slug(s, "urbanisme")
            assert svc is not None
            assert principal == Principal(key_id, svc.id, "urbanisme", Role(role))
            assert req.state.principal == principal
            assert principal.sees_all is (role != "service")


UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="regie"'}
SEND = "Send your API key as 'Authorization: Bearer <key>'."


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, SEND),
        ("", SEND),
        ("Bearer", SEND),
        ("Bearer    ", SEND),
        ("Basic dXJiYW5pc21lOnNlY3JldA==", SEND),
        ("Token rk_live_ser_x", SEND),
        ("Bearer " + "k" * 201, "Invalid API key."),
        ("Bearer rk_live_ser_unknown", "Invalid or revoked API key."),
        ("Bearer " + "k" * 200, "Invalid or revoked API key."),
    ],
)
async def test_anything_else_is_401_with_a_bearer_challenge(
    db: Database, header: str | None, message: str
) -> None:
    await keys_of(db)
    req = request(db, header)
    with pytest.raises(ApiError) as refused:
        await authenticate(req)
    assert refusal(refused) == (401, "invalid_api_key", message, UNAUTHORIZED)
    assert refused.value.type == "authentication_error"
    assert not hasattr(req.state, "principal")


async def test_a_revoked_key_is_401(db: Database) -> None:
    keys = await keys_of(db)
    async with db.session() as s:
        await revoke_key(s, keys["finance"][1])
        await s.commit()
    with pytest.raises(ApiError) as refused:
        await authenticate(request(db, f"Bearer {keys['finance'][1]}"))
    assert refusal(refused) == (401, "invalid_api_key", "Invalid or revoked API key.", UNAUTHORIZED)


async def test_production_refuses_test_keys_before_looking_them_up(db: Database) -> None:
    keys = await keys_of(db)
    test_key, live_key = keys["service"][1], keys["finance"][1]
    with pytest.raises(ApiError) as refused:
        await authenticate(request(db, f"Bearer {test_key}", env="production"))
    assert refusal(refused) == (
        401,
        "invalid_api_key",
        "Test keys (rk_test_…) are refused in production; use a live key.",
        UNAUTHORIZED,
    )
    assert (
        await authenticate(request(db, f"Bearer {live_key}", env="production"))
    ).role == "finance"
    # outside production, and without settings, a test key authenticates
    assert (await authenticate(request(db, f"Bearer {test_key}", env="test"))).role == "service"
    bare = request(db, f"Bearer {test_key}")
    del bare.app.state.settings
    assert (await authenticate(bare)).role == "service"


def test_a_role_check_names_the_roles_it_needs() -> None:
    who = {r: Principal("key_1", "svc_1", "urbanisme", r) for r in Role}
    require_role(who[Role.finance], Role.finance, Role.admin)
    require_role(who[Role.admin], Role.finance, Role.admin)
    require_role(who[Role.service], Role.service)
    with pytest.raises(ApiError) as refused:
        require_role(who[Role.service], Role.finance, Role.admin)
    e = refused.value
    assert (e.status, e.code, e.message) == (
        403,
        "insufficient_role",
        "This call needs a finance or admin key.",
    )
    with pytest.raises(ApiError) as refused:
        require_role(who[Role.admin], Role.service)
    assert refused.value.message == "This call needs a service key."
