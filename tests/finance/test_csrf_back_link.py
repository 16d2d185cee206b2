"""A form refused for its CSRF token (a tab left open across a new sign-in, a forged post)
leads back to the page the form is on, where it can be sent again: the run of a resolve,
a confirm or a heal, the statements page of an upload; not to the sign-in page, which
only bounces a signed-in officer to the dashboard, far from the run they were working on.
Nothing is changed."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Keys
from tests.finance.test_runs import page_text, signed_in

RUN = "/finance/runs/run_01ABCDEFGHJKMNPQRSTVWXYZ00"
CASES = [
    (f"{RUN}/discrepancies/dsc_01ABCDEFGHJKMNPQRSTVWXYZ00/resolve", RUN),
    (f"{RUN}/suggestions/sug_01ABCDEFGHJKMNPQRSTVWXYZ00/confirm", RUN),
    (f"{RUN}/heal", RUN),
    ("/finance/runs", "/finance/runs"),
    ("/finance/bank-statements", "/finance/bank-statements"),
]


@pytest.mark.parametrize(("action", "page"), CASES)
async def test_a_refused_form_leads_back_to_its_page(
    client: httpx.AsyncClient, keys: Keys, action: str, page: str
) -> None:
    csrf = await signed_in(client, keys)
    r = await client.post(
        action, data={"csrf": csrf[:-2] + "xx", "note": "Frais"}, headers={"accept-language": "fr"}
    )
    assert r.status_code == 403, r.text[:300]
    text = page_text(r)
    assert "Formulaire refusé" in text and "Rien n'a été modifié" in text
    assert f'<a href="{page}">Revenir à la page</a>' in r.text, r.text[-800:]
    assert "Retour à la connexion" not in text


async def test_a_refused_sign_in_form_still_leads_to_the_sign_in_page(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post("/finance/login", data={"csrf": "forged", "key": "x"})
    assert r.status_code == 403
    assert "Retour à la connexion" in page_text(r) and 'href="/finance/login"' in r.text
