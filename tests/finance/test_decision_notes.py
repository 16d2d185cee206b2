"""A note the API refuses is refused by the workspace's forms too, whole, never cut: a note
over 2000 characters on "Mark as resolved" or on a suggestion's confirm or reject was cut to
its first 2000 characters and stored, its end lost without a word (a review found it).
Now a 422 page says so in the page's language, keeps the note in the form, and nothing is
stored (on SQLite and PostgreSQL)."""

from __future__ import annotations

from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.reconciliation.decision_runs import IBAN, run_with_credit, run_with_suggestion

LONG = "Subvention de la préfecture, arrêté 2026-114. " + "détail " * 400 + "FIN"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def signed_in(client: httpx.AsyncClient, keys: Keys) -> str:
    assert (await sign_in(client, keys.finance)).status_code == 303
    return csrf_of((await client.get("/finance/")).text)


async def notes(app: Any) -> list[str]:
    async with app.state.db.session() as s:
        return [r[0] for r in await s.execute(text("SELECT note FROM recon_decisions"))]


async def test_a_long_note_on_a_discrepancy_is_refused_whole_and_kept_in_the_form(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, did = await run_with_credit(client, keys)
    api = await client.post(f"/v1/reconciliations/{run['id']}/discrepancies/{did}/resolve",
                            json={"note": LONG}, headers=Keys.h(keys.finance))  # fmt: skip
    assert api.status_code == 422  # what the API refuses ...
    csrf = await signed_in(client, keys)
    r = await client.post(f"/finance/runs/{run['id']}/discrepancies/{did}/resolve",
                          data={"csrf": csrf, "note": LONG})  # fmt: skip
    assert r.status_code == 422 and await notes(app) == []  # ... the form refuses too
    page = unescape(r.text)
    assert f"La note fait {len(LONG)} caractères" in page and "2000 au plus" in page
    assert LONG in page  # the officer's text is still there to shorten
    # exactly 2000 characters (spaces around it do not count) are taken, whole
    fits = "  " + LONG[:2000] + "  "
    r = await client.post(f"/finance/runs/{run['id']}/discrepancies/{did}/resolve",
                          data={"csrf": csrf, "note": fits})  # fmt: skip
    assert r.status_code == 303 and await notes(app) == [LONG[:2000]]


@pytest.mark.parametrize("action", ["confirm", "reject"])
async def test_a_long_note_on_a_suggestion_is_refused_whole_in_english_too(
    app: Any, client: httpx.AsyncClient, keys: Keys, action: str
) -> None:
    run, sid = await run_with_suggestion(app, client, keys)
    csrf = await signed_in(client, keys)
    r = await client.post(f"/finance/runs/{run['id']}/suggestions/{sid}/{action}",
                          data={"csrf": csrf, "note": LONG},
                          headers={"Accept-Language": "en"})  # fmt: skip
    assert r.status_code == 422 and await notes(app) == []
    page = unescape(r.text)
    assert f"The note is {len(LONG)} characters long; 2000 at most." in page
    assert LONG in page
    # the suggestion is still open: its form is there
    assert f"/suggestions/{sid}/confirm" in r.text


# what a browser sends of a textarea holding 2000 characters, 19 of them line breaks: its
# maxlength counts a line break as one character (Chromium's value "a\nb" is 3 long), and the
# form sends each as CR LF
LINE = "Subvention de la préfecture, arrêté 2026-114, ligne ".ljust(99, "x")
TYPED = "\n".join([LINE] * 20) + "x"
SENT = TYPED.replace("\n", "\r\n")


@pytest.mark.parametrize("item", ["discrepancy", "confirm", "reject"])
async def test_a_note_the_form_let_the_officer_type_is_taken_its_line_breaks_counted_once(
    app: Any, client: httpx.AsyncClient, keys: Keys, item: str
) -> None:
    assert len(TYPED) == 2000 and len(SENT) == 2019  # within the textarea's maxlength=2000
    if item == "discrepancy":
        run, did = await run_with_credit(client, keys)
        path = f"/finance/runs/{run['id']}/discrepancies/{did}/resolve"
    else:
        run, sid = await run_with_suggestion(app, client, keys)
        path = f"/finance/runs/{run['id']}/suggestions/{sid}/{item}"
    csrf = await signed_in(client, keys)
    page = await client.get(f"/finance/runs/{run['id']}")
    assert 'maxlength="2000"' in page.text
    r = await client.post(path, data={"csrf": csrf, "note": SENT})
    assert r.status_code == 303, unescape(r.text)[:2000]
    assert await notes(app) == [TYPED]  # stored as typed, its line breaks one character each
