"""The workspace's upload forms take no more parts than the API's (SQLite and PostgreSQL).
``POST /v1/bank-statements`` reads its form with one file and five fields at most, and
``POST /v1/reconciliations`` twenty of each; the same uploads from the workspace's pages
were read with Starlette's defaults, a thousand files and a thousand fields, each small
file held in memory: a form of a thousand small files was read whole (and the statement in
it imported). The pages' forms have one file and at most four fields, so a form with more
is refused with a 400 page in the page's language, and nothing is stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.finance.test_upload_needs_sign_in import statements
from tests.reconciliation.test_reconcile_api import IBAN, camt


@pytest.fixture
def settings(settings_factory: Any) -> Any:
    return settings_factory(bank_iban=IBAN)


def form(csrf: str, statement: bytes, *, files: int = 1, fields: int = 0) -> bytes:
    parts = [f'Content-Disposition: form-data; name="csrf"\r\n\r\n{csrf}'.encode()]
    for i in range(fields):
        parts.append(f'Content-Disposition: form-data; name="x{i}"\r\n\r\nx'.encode())
    for i in range(files):
        parts.append(
            f'Content-Disposition: form-data; name="{"camt053" if i == 0 else f"f{i}"}"; '
            f'filename="releve-{i}.xml"\r\nContent-Type: application/xml\r\n\r\n'.encode()
            + statement
        )
    return b"".join(b"--b\r\n" + p + b"\r\n" for p in parts) + b"--b--\r\n"


async def post(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post(
        "/finance/bank-statements",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=b"},
    )


@pytest.mark.parametrize(("files", "fields"), [(2, 0), (1, 20)])
async def test_a_form_with_more_parts_than_a_page_sends_is_refused(
    client: httpx.AsyncClient, keys: Keys, files: int, fields: int
) -> None:
    await sign_in(client, keys.finance)
    csrf = csrf_of((await client.get("/finance/bank-statements")).text)
    statement = camt([("BNK-1", "123.45", "SUBVENTION")])
    r = await post(client, form(csrf, statement, files=files, fields=fields))
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")  # the workspace's page
    assert "Formulaire refusé" in r.text  # in the page's language, not Starlette's English
    assert await statements(client, keys) == []
    # the form a page sends is still taken
    r = await post(client, form(csrf, statement))
    assert r.status_code == 303 and "imported=" in r.headers["location"], r.text[:300]
    assert len(await statements(client, keys)) == 1
