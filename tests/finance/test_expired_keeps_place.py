"""A session that expired while a page was open (a run left on screen over lunch) sends
the officer to sign in again *and back to where they were*: the page they asked for, or,
through the refused form's page, the page of the form they sent (the run of a note they
were writing). The sign-in page said why, but dropped the way back, landing them on the
dashboard."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from regie.finance.session import Session, encode, signing_key
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.finance.test_login import _key_id_of, use_cookie

RUN = "/finance/runs/run_01ABCDEFGHJKMNPQRSTVWXYZ00"


async def test_an_expired_session_signs_in_again_to_the_same_page(
    client, app, keys: Keys, settings: Settings
) -> None:
    await sign_in(client, keys.finance)
    key_id = _key_id_of(client, settings)
    now = int(time.time())
    idle = settings.finance_session_idle_minutes * 60
    stale = encode(
        Session(key_id, "c" * 43, now - idle - 5, now - idle - 5),
        signing_key(settings.secret_key),
    )
    for method, path, back in (
        ("GET", f"{RUN}?show=all", f"{RUN}?show=all"),
        ("POST", f"{RUN}/discrepancies/dsc_01ABCDEFGHJKMNPQRSTVWXYZ00/resolve", RUN),
        ("POST", "/finance/bank-statements", "/finance/bank-statements"),
    ):
        use_cookie(client, stale)
        if method == "POST":  # refused, nothing changed: the page leads back to the form's page
            r = await client.post(path, data={"csrf": "c" * 43, "note": "Frais"})
            assert r.status_code == 403 and f'<a href="{back}">' in r.text, path
            path = back
        r = await client.get(path)
        assert r.status_code == 303, (path, r.text[:200])
        assert r.headers["location"] == (
            f"/finance/login?reason=expired&next={quote(back, safe='')}"
        ), path
        page = await client.get(r.headers["location"])
        hidden = re.search(r'name="next" value="([^"]*)"', page.text)
        assert hidden is not None and hidden.group(1).replace("&amp;", "&") == back, path
    signed = await client.post(
        "/finance/login", data={"csrf": csrf_of(page.text), "key": keys.finance, "next": back}
    )
    assert (signed.status_code, signed.headers["location"]) == (303, back)
