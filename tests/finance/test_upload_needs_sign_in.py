"""An upload to the workspace is read only from a signed-in officer (SQLite and PostgreSQL).
Anyone gets a session before signing in (the login form's CSRF token), and its cookie gave
the upload routes their REGIE_MAX_UPLOAD_BYTES: a review found such a form, a file of 50 MB,
read in full (and its CSRF token checked) before the visitor was sent to the sign-in page.
So was a copy of a signed-out session's cookie. Now they go to the sign-in page before a
byte of the file is read, and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.finance.test_sign_out import copy_of
from tests.reconciliation.test_reconcile_api import IBAN, camt

FIELDS = {"/finance/bank-statements": "camt053", "/finance/runs": "stripe_csv"}
CHUNKS = 50


@pytest.fixture
def settings(settings_factory: Any) -> Any:
    return settings_factory(bank_iban=IBAN)


async def post_counting(
    client: httpx.AsyncClient, path: str, csrf: str, data: bytes
) -> tuple[httpx.Response, int]:
    """A multipart form (its CSRF token, then a file sent in ``CHUNKS`` parts) and how many
    of the file's parts the app read."""
    read = 0
    part = -(-len(data) // CHUNKS)

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        yield (
            f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
            f'--b\r\nContent-Disposition: form-data; name="{FIELDS[path]}"; '
            'filename="releve.xml"\r\nContent-Type: application/xml\r\n\r\n'
        ).encode()
        for i in range(CHUNKS):
            read += 1
            yield data[i * part : (i + 1) * part]
        yield b"\r\n--b--\r\n"

    r = await client.post(
        path, content=body(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    return r, read


async def statements(client: httpx.AsyncClient, keys: Keys) -> list[Any]:
    r = await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))
    return r.json()["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", list(FIELDS))
async def test_a_visitor_not_signed_in_is_sent_to_sign_in_before_the_file_is_read(
    client: httpx.AsyncClient, keys: Keys, path: str
) -> None:
    csrf = csrf_of((await client.get("/finance/login")).text)  # the visitor's own session
    statement = camt([("BNK-1", "123.45", "SUBVENTION")])
    r, read = await post_counting(client, path, csrf, statement)
    assert (r.status_code, r.headers.get("location")) == (303, "/finance/login"), r.text[:300]
    assert read <= 1, f"{read} of the file's {CHUNKS} parts read before signing in"
    assert await statements(client, keys) == []


@pytest.mark.parametrize("path", list(FIELDS))
async def test_a_copy_of_a_signed_out_cookie_is_sent_to_sign_in_before_the_file_is_read(
    app: Any, client: httpx.AsyncClient, keys: Keys, path: str
) -> None:
    await sign_in(client, keys.finance)
    csrf = csrf_of((await client.get("/finance/")).text)
    async with copy_of(app, client) as copy:
        await client.post("/finance/logout", data={"csrf": csrf})
        statement = camt([("BNK-1", "123.45", "SUBVENTION")])
        r, read = await post_counting(copy, path, csrf, statement)
    assert r.status_code == 303 and r.headers["location"].startswith("/finance/login"), r.text
    assert read <= 1, f"{read} of the file's {CHUNKS} parts read after signing out"
    assert await statements(client, keys) == []


async def test_a_signed_in_officer_still_uploads(client: httpx.AsyncClient, keys: Keys) -> None:
    await sign_in(client, keys.finance)
    csrf = csrf_of((await client.get("/finance/bank-statements")).text)
    statement = camt([("BNK-1", "123.45", "SUBVENTION")])
    r, read = await post_counting(client, "/finance/bank-statements", csrf, statement)
    assert r.status_code == 303 and "imported=" in r.headers["location"], r.text[:300]
    assert read == CHUNKS and len(await statements(client, keys)) == 1
