"""A NUL character sent to the workspace (in a form field, or in an address) is refused
before anything is read or stored, as everywhere in regie, and said as a page in the page's
language, like the workspace's other errors: it was the API's JSON error (a review found it
on the resolve form). The API keeps its JSON (on SQLite and PostgreSQL)."""

from __future__ import annotations

from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.reconciliation.decision_runs import IBAN, run_with_credit


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def is_page(r: httpx.Response) -> bool:
    return r.headers["content-type"].startswith("text/html") and "<html" in r.text


async def test_a_nul_in_a_form_is_a_page_and_nothing_is_stored(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, did = await run_with_credit(client, keys)
    assert (await sign_in(client, keys.finance)).status_code == 303
    csrf = csrf_of((await client.get("/finance/")).text)
    url = f"/finance/runs/{run['id']}/discrepancies/{did}/resolve"
    r = await client.post(url, data={"csrf": csrf, "note": "Subvention\x00 de la préfecture"})
    assert r.status_code == 400 and is_page(r), r.text[:200]
    assert "caractère nul" in unescape(r.text) and "Traceback" not in r.text
    r = await client.post(url, data={"csrf": csrf, "note": "a\x00b"},
                          headers={"Accept-Language": "en"})  # fmt: skip
    assert r.status_code == 400 and is_page(r) and "NUL character" in unescape(r.text)
    async with app.state.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM recon_decisions"))).scalar() == 0


async def test_a_nul_in_a_workspace_address_is_a_page_and_in_the_api_json(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    assert (await sign_in(client, keys.finance)).status_code == 303
    r = await client.get("/finance/invoices?q=a%00b")
    assert r.status_code == 400 and is_page(r), r.text[:200]
    api = await client.get("/v1/invoices?q=a%00b", headers=Keys.h(keys.finance))
    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_character"
