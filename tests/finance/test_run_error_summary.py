"""A note refused on a run's page (blank on "Mark as resolved", too long on a suggestion)
was said only beside its field, far down the page: the 422 page opens at its top, so on a
phone the officer saw the run's header and no error (a screen reader heard only the
title). The page now opens with the list of what to correct, each a link to its note."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.reconciliation.decision_runs import IBAN, run_with_credit, run_with_suggestion


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def signed_in(client: httpx.AsyncClient, keys: Keys) -> str:
    assert (await sign_in(client, keys.finance)).status_code == 303
    return csrf_of((await client.get("/finance/")).text)


def summary_links(html: str) -> list[tuple[str, str]]:
    """The error box between the page's title and its first section: (target, words)."""
    head = html.split("<h1>", 1)[1].split('<section aria-labelledby="summary-h">', 1)[0]
    box = re.search(r'<div class="alert error" role="alert">(.*?)</div>', head, re.S)
    assert box, "no error summary at the top of the page"
    links = re.findall(r'<a href="#([^"]+)">(.*?)</a>', box.group(1), re.S)
    return [(target, unescape(words)) for target, words in links]


async def test_a_blank_resolve_note_is_listed_at_the_top_with_a_link_to_it(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    run, did = await run_with_credit(client, keys)
    csrf = await signed_in(client, keys)
    r = await client.post(
        f"/finance/runs/{run['id']}/discrepancies/{did}/resolve",
        data={"csrf": csrf, "note": "   "},
        headers={"Accept-Language": "fr"},
    )
    assert r.status_code == 422
    assert summary_links(r.text) == [(f"note-{did}", "Écrivez une note pour résoudre cet écart.")]
    assert f'id="note-{did}"' in r.text  # the link's target: the note's field
    assert r.text.count('role="alert"') == 1  # said once, not again beside the field


async def test_a_long_suggestion_note_is_listed_at_the_top_in_english_too(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, sid = await run_with_suggestion(app, client, keys)
    csrf = await signed_in(client, keys)
    r = await client.post(
        f"/finance/runs/{run['id']}/suggestions/{sid}/reject",
        data={"csrf": csrf, "note": "x" * 2001},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert summary_links(r.text) == [
        (
            f"note-{sid}",
            "The note is 2001 characters long; 2000 at most. Shorten it: nothing was recorded.",
        )
    ]
    assert f'id="note-{sid}"' in r.text


async def test_a_run_page_without_a_refusal_has_no_error_box(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    run, _ = await run_with_credit(client, keys)
    await signed_in(client, keys)
    page = await client.get(f"/finance/runs/{run['id']}")
    assert page.status_code == 200 and 'class="alert error"' not in page.text
