"""The workspace answers its errors with pages in the officer's language, never the API's
JSON (SQLite and PostgreSQL): a file over REGIE_MAX_UPLOAD_BYTES (by its Content-Length or
while streaming), a page that does not exist, and an unexpected error. The API keeps its
one JSON error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import BASE_URL, Keys
from tests.finance.test_runs import page_text, signed_in
from tests.reconciliation.test_reconcile_api import IBAN


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN, max_upload_bytes=4096)  # type: ignore[no-any-return]


def is_page(r: httpx.Response) -> bool:
    return r.headers["content-type"].startswith("text/html") and "<h1>" in r.text


@pytest.mark.parametrize("path", ["/finance/bank-statements", "/finance/runs"])
async def test_a_file_over_the_upload_limit_is_a_page(
    client: httpx.AsyncClient, keys: Keys, path: str
) -> None:
    csrf = await signed_in(client, keys)
    field = "camt053" if path.endswith("statements") else "stripe_csv"
    big = b"x" * 5000
    r = await client.post(path, data={"csrf": csrf}, files={field: ("big.xml", big)})
    assert r.status_code == 413 and is_page(r), r.text[:300]
    assert "Fichier trop volumineux" in page_text(r) and "4\u00a0Kio" in page_text(r)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: caught while streaming
        yield (
            f'--b\r\nContent-Disposition: form-data; name="{field}"; filename="big.xml"\r\n'
            "Content-Type: application/xml\r\n\r\n"
        ).encode()
        for _ in range(100):  # past the limit and the 64 KiB allowed for the form's framing
            yield b"x" * 1000
        yield b"\r\n--b--\r\n"

    r = await client.post(
        path,
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b", "accept-language": "en"},
    )
    assert r.status_code == 413 and is_page(r), r.text[:300]
    assert "File too large" in page_text(r) and "big.xml is larger than" in page_text(r)
    bank = await client.post(  # the API keeps its JSON
        "/v1/bank-statements", files={"file": ("big.xml", big)}, headers=Keys.h(keys.finance)
    )
    assert bank.status_code == 413 and bank.json()["error"]["code"] == "body_too_large"


async def test_an_unknown_page_and_an_unexpected_error_are_pages(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await signed_in(client, keys)
    r = await client.get("/finance/nothing-here")
    assert r.status_code == 404 and is_page(r) and "Page introuvable" in page_text(r)

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    app.state.reconciliation.list_runs = broken  # the service fails, not the database
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE_URL, cookies=client.cookies
    ) as c:
        r = await c.get("/finance/runs")
    assert r.status_code == 500 and is_page(r), r.text[:300]
    assert "Une erreur s'est produite de notre côté" in page_text(r) and "boom" not in r.text
    assert (await client.get("/v1/nothing", headers=Keys.h(keys.finance))).json()["error"]
