"""A note of nothing visible (a zero-width space, as a copy from a web page or a word
processor leaves) on "Marquer comme résolu": the form's own check is ``note.strip()``, which
a zero-width space passes; the service (``decisions._note``) then refuses it, and the
French page shows the API's English, "Refusé : A note is required to resolve a
discrepancy.", where an empty note gets "Écrivez une note pour résoudre cet écart."."""

from __future__ import annotations

from html import unescape
from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.reconciliation.decision_runs import IBAN, run_with_credit


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_a_note_of_a_zero_width_space_is_refused_in_french(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    run, did = await run_with_credit(client, keys)
    assert (await sign_in(client, keys.finance)).status_code == 303
    csrf = csrf_of((await client.get("/finance/")).text)
    r = await client.post(f"/finance/runs/{run['id']}/discrepancies/{did}/resolve",
                          data={"csrf": csrf, "note": "\u200b"})  # fmt: skip
    assert r.status_code == 422
    page = unescape(r.text)
    assert "A note is required" not in page
    assert "Écrivez une note pour résoudre cet écart." in page
