"""A lone UTF-16 surrogate escape in a JSON string (``"\\ud800"``) is valid JSON syntax that
Python reads into a str no database driver can encode: the decision's note reaches the
INSERT and the request ends in a 500 (asyncpg: "surrogates not allowed"; sqlite3 the same),
where a NUL in the same place is a 400 ``invalid_character`` refused at the edge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.settings import Settings
from tests.conftest import BASE_URL, Keys
from tests.reconciliation.decision_runs import IBAN, run_with_credit


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_a_note_with_a_lone_surrogate_is_refused_not_a_500(app: Any, keys: Keys) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is a 500
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        run, did = await run_with_credit(client, keys)
        r = await client.post(
            f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve",
            content=b'{"note": "Subvention \\ud800"}',
            headers=Keys.h(keys.finance, **{"Content-Type": "application/json"}),
        )
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert set(r.json()["error"]) >= {"type", "code", "message"}
    async with app.state.db.session() as s:
        assert (await s.execute(text("SELECT count(*) FROM recon_decisions"))).scalar() == 0
