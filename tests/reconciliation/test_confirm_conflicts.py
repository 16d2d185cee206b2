"""Two suggestions that share a side (one bank credit, two payouts of its amount): each is
that credit's money, never both. Two officers confirming one each at the same moment, or one
confirming the second after the first, got 200 twice and left both confirmations in force:
the run showed the credit confirmed as two payouts' money, and the next run matched the one
whose key sorts first and dropped the other without a word (a review found it). A
confirmation that a confirmation in force already claims a side of is now refused (409
``suggestion_conflict``, naming it); rejecting that one first frees the side."""

from __future__ import annotations

import asyncio
from html import unescape
from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import csrf_of, sign_in
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.decision_runs import IBAN, new_run, upload
from tests.reconciliation.test_reconcile_api import camt


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def run_with_rivals(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A run with two payouts of one amount and one credit of it naming neither: two
    suggestions, (payout 1, credit) and (payout 2, credit)."""
    payouts = []
    for ref in ("A", "B"):
        await paid_invoice(client, app, keys.urbanisme, reference=ref, amount=2500)
        (made,) = await sim(app).pay_out()
        await app.state.applier.process_batch()
        payouts.append(made.payout)
    assert payouts[0].amount == payouts[1].amount
    net = payouts[0].amount
    await upload(client, keys.finance,
                 camt([("BNK-R", f"{net // 100}.{net % 100:02d}", "VIREMENT PSP")]))  # fmt: skip
    run = await new_run(client, keys)
    rivals = run["suggestions"]
    assert len(rivals) == 2 and {tuple(s["bank_references"]) for s in rivals} == {("BNK-R",)}
    return run, rivals


def confirm_url(run: dict[str, Any], s: dict[str, Any], action: str = "confirm") -> str:
    return f"/v1/reconciliations/{run['id']}/suggestions/{s['id']}/{action}"


async def statuses(client: httpx.AsyncClient, keys: Keys, run_id: str) -> list[str]:
    got = (await client.get(f"/v1/reconciliations/{run_id}", headers=Keys.h(keys.finance))).json()
    return sorted(x["status"] for x in got["suggestions"])


async def test_confirming_a_second_suggestion_for_a_confirmed_credit_is_refused(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, (one, two) = await run_with_rivals(app, client, keys)
    fin = Keys.h(keys.finance)
    assert (await client.post(confirm_url(run, one), json={}, headers=fin)).status_code == 200
    r = await client.post(confirm_url(run, two), json={"note": "non, celui-ci"}, headers=fin)
    assert r.status_code == 409, r.text
    err = r.json()["error"]
    assert err["code"] == "suggestion_conflict"
    assert "BNK-R" in err["message"] and one["id"] in err["message"]
    assert await statuses(client, keys, run["id"]) == ["confirmed", "open"]
    # rejecting the first frees the credit: the second is confirmed, and the next run
    # matches the credit to the second's payout
    assert (
        await client.post(confirm_url(run, one, "reject"), json={}, headers=fin)
    ).status_code == 200
    r = await client.post(confirm_url(run, two), json={"note": "celui-ci"}, headers=fin)
    assert r.status_code == 200, r.text
    assert await statuses(client, keys, run["id"]) == ["confirmed", "rejected"]
    after = await new_run(client, keys)
    assert after["suggestions"] == []
    (payout_one,) = one["payout_ids"]
    assert [d["payout_id"] for d in after["discrepancies"]] in ([payout_one], [])


@pytest.mark.postgres
async def test_two_officers_confirming_rivals_at_once_leave_one_confirmed(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, (one, two) = await run_with_rivals(app, client, keys)
    fin = Keys.h(keys.finance)
    got = await asyncio.gather(
        client.post(confirm_url(run, one), json={"note": "A"}, headers=fin),
        client.post(confirm_url(run, two), json={"note": "B"}, headers=fin),
    )
    assert sorted(r.status_code for r in got) == [200, 409], [r.text for r in got]
    assert await statuses(client, keys, run["id"]) == ["confirmed", "open"]


async def test_the_workspace_says_why_beside_the_second_confirm(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    run, (one, two) = await run_with_rivals(app, client, keys)
    assert (await sign_in(client, keys.finance)).status_code == 303
    csrf = csrf_of((await client.get("/finance/")).text)
    base = f"/finance/runs/{run['id']}/suggestions"
    r = await client.post(f"{base}/{one['id']}/confirm", data={"csrf": csrf, "note": ""})
    assert r.status_code == 303
    r = await client.post(f"{base}/{two['id']}/confirm", data={"csrf": csrf, "note": "B"},
                          headers={"Accept-Language": "en"})  # fmt: skip
    assert r.status_code == 409
    page = unescape(r.text)
    assert f"suggestion {one['id']} of run {run['id']}" in page and "bank credit BNK-R" in page
    assert f"{base}/{two['id']}/confirm" in page  # still open, its form there
    assert await statuses(client, keys, run["id"]) == ["confirmed", "open"]
