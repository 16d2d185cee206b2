"""A decision on a suggestion taken after a run read the decisions in force (while it was
being computed, or any time after it) is not in that run's numbers: the run shows it as
taken after it, applying from the next run. Run N+1, computed while the officer confirmed
a suggestion of run N, showed the suggestion "confirmed" like a run that had followed the
confirmation, while its numbers had not followed it (the payout not matched to the bank, the
difference the confirmation brings not listed): a review found it. The API, the pages and
the PDF now tell the two apart (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest

from reconciliation.models import ReconDecision, ReconRun, ReconSuggestion
from reconciliation.schemas import run_out
from reconciliation.service import ReconciliationService
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.test_run_reports import pdf_text
from tests.finance.test_runs import page_text, signed_in
from tests.reconciliation.decision_runs import IBAN, new_run, period, run_with_suggestion


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


async def test_a_confirmation_taken_while_the_next_run_is_computed_applies_from_the_one_after(
    app: Any, client: httpx.AsyncClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, sid = await run_with_suggestion(app, client, keys)
    fin = Keys.h(keys.finance)
    read, go_on = asyncio.Event(), asyncio.Event()
    real = ReconciliationService._store

    async def paused(self: Any, *args: Any, **kwargs: Any) -> Any:  # decisions read, matched
        read.set()
        await go_on.wait()
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(ReconciliationService, "_store", paused)
    started = asyncio.create_task(client.post("/v1/reconciliations", json=period(), headers=fin))
    await asyncio.wait_for(read.wait(), 30)
    r = await client.post(
        f"/v1/reconciliations/{run['id']}/suggestions/{sid}/confirm", json={}, headers=fin
    )
    assert r.status_code == 200, r.text
    go_on.set()
    made = await started
    assert made.status_code == 201, made.text
    monkeypatch.undo()
    later = (await client.get(f"/v1/reconciliations/{made.json()['id']}", headers=fin)).json()
    # run N+1 did not follow the confirmation: its payout is not matched to the bank there,
    # and the suggestion says that its confirmation came after the run
    assert later["summary"]["payouts_matched"] == 0 and later["discrepancies"] == []
    (x,) = later["suggestions"]
    assert x["status"] == "confirmed" and x["decided_after_run"] is True
    # so does run N, on whose page the officer confirmed it
    first = (await client.get(f"/v1/reconciliations/{run['id']}", headers=fin)).json()
    assert first["suggestions"][0]["decided_after_run"] is True
    # the pages and the PDF say so, in French and in English
    await signed_in(client, keys)
    fr = page_text(await client.get(f"/finance/runs/{later['id']}"))
    assert "Confirmée après ce rapprochement" in fr and "à partir du prochain" in fr
    en = page_text(await client.get(f"/finance/runs/{later['id']}?lang=en"))
    assert "Confirmed after this run: applies from the next run" in en
    pdf = pdf_text(await client.get(f"/finance/runs/{later['id']}.pdf?lang=en"))
    assert "Confirmed after this run: applies from the next run" in pdf
    # the next run follows it: the payout is matched to the credit, one cent apart
    after = await new_run(client, keys)
    assert after["suggestions"] == [] and after["summary"]["payouts_matched"] == 1
    assert [d["category"] for d in after["discrepancies"]] == ["amount_mismatch"]


def test_a_decision_the_run_followed_is_not_said_to_come_after_it() -> None:
    """A suggestion the run listed with a decision it read (the one its matching followed)
    shows that decision as the run's; a later one superseding it comes after the run."""
    at = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    run = ReconRun(id="run_1", period_from=at.date(), period_to=at.date(), as_of=at.date(),
                   provider="stripe", sources=[], inputs_sha256="0" * 64, summary={},
                   tie_outs=[], actor="key_x", created_at=at)  # fmt: skip
    sug = ReconSuggestion(id="sug_1", run_id="run_1", key="k", kind="payout_bank",
                          payout_ids=["po_1"], bank_references=["B"], amount=1, currency="EUR",
                          reason="r", applied_decision_id="dec_1")  # fmt: skip
    read = ReconDecision(id="dec_1", key="k", action="confirm", note="", actor="key_x",
                         run_id="run_0", created_at=at)  # fmt: skip
    later = ReconDecision(id="dec_2", key="k", action="reject", note="", actor="key_x",
                          run_id="run_1", created_at=at + dt.timedelta(hours=1))  # fmt: skip
    (x,) = run_out(run, [], [sug], {"k": read}).suggestions
    assert (x.status, x.decided_after_run) == ("confirmed", False)
    (x,) = run_out(run, [], [sug], {"k": later}).suggestions
    assert (x.status, x.decided_after_run) == ("rejected", True)
