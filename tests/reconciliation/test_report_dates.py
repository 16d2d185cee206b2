"""The run's report (the PDF the workspace and the API give, and the CLI's summary) writes
its days as the workspace's pages do: "du 1er octobre 2026 au 27 octobre 2026" in French,
"1 October 2026 to 27 October 2026" in English, never an ISO date in a sentence."""

from __future__ import annotations

import datetime as dt
import re

from reconciliation.report import sources_text, summary_lines, summary_words
from reconciliation.report_pdf import to_pdf
from reconciliation.schemas import (
    CarriedFrom,
    Decision,
    DiscrepancyOut,
    RunOut,
    SuggestedCredit,
    SuggestedPayout,
    SuggestionOut,
    TieOutOut,
)
from tests.reconciliation.test_report_pdf import LABELS, text_of

ISO_DAY = re.compile(r"\b20[0-9]{2}-[0-9]{2}-[0-9]{2}\b")
# 2 November 2026, 23:30 UTC: 3 November, 00:30 in Paris
AT = dt.datetime(2026, 11, 2, 23, 30, tzinfo=dt.UTC)


def october_run() -> RunOut:
    """October's run, made on 3 November: its bank statements end on the 27th, its bank
    difference is September's, with a resolved discrepancy and a decided suggestion."""
    decided = Decision(action="resolve", note="Subvention", actor="key_01FIN", created_at=AT)
    dis = DiscrepancyOut(
        id="dsc_1", category="unexpected_bank_credit", amount=15000, currency="EUR",
        status="resolved", psp_reference=None, payout_id=None, bank_reference="BNK-1",
        ledger_entry=None, detail="SUBVENTION", resolution=decided,
    )  # fmt: skip
    sug = SuggestionOut(
        id="sug_1", kind="payout_bank", payout_ids=["po_1"], bank_references=["BNK-2"],
        amount=800, currency="EUR", reason="the credit names the payout; its amount or date is off",
        status="rejected", decision=Decision(action="reject", note="", actor="cli", created_at=AT),
        payout_amount=790, difference=10,
        payouts=[SuggestedPayout(id="po_1", amount=790, date=dt.date(2026, 10, 1))],
        bank_credits=[SuggestedCredit(reference="BNK-2", amount=800, date=dt.date(2026, 10, 2))],
    )  # fmt: skip
    tie = TieOutOut(
        name="bank", currency="EUR", ledger=8347, source=8347 + 15000, difference=15000,
        as_of=dt.date(2026, 10, 27),
        carried_from=CarriedFrom(run_id="run_0", period_from=dt.date(2026, 9, 1),
                                 period_to=dt.date(2026, 9, 30)),
    )  # fmt: skip
    sources = [
        {"kind": "bank_statement", "filename": "octobre.xml", "sha256": "ab" * 32,
         "imported_at": AT.isoformat()},
    ]  # fmt: skip
    return RunOut(
        id="run_1", period_from=dt.date(2026, 10, 1), period_to=dt.date(2026, 10, 31),
        as_of=dt.date(2026, 10, 31), provider="simulator", sources=sources,
        inputs_sha256="ab" * 32, actor="key_01FIN", created_at=AT,
        summary={"matched_count": 2, "matched_amount": {"EUR": 9350}, "open": 0, "resolved": 1,
                 "categories": [{"category": "unexpected_bank_credit", "currency": "EUR",
                                 "count": 1, "amount": 15000}]},
        tie_outs=[tie], discrepancies=[dis], suggestions=[sug],
    )  # fmt: skip


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_french_report_writes_its_days_in_words() -> None:
    """The French PDF said "Rapprochement du 2026-10-01 au 2026-10-31", "au 2026-10-27 (les
    relevés s'arrêtent là)", "le 2026-11-03" under a resolution: ISO dates in French text."""
    text = _flat(text_of(to_pdf(october_run(), LABELS, "fr")))
    assert "Rapprochement du 1er octobre 2026 au 31 octobre 2026" in text
    assert "lancé le 3 novembre 2026 à 00:30 (heure de Paris)" in text
    assert "au 27 octobre 2026 (les relevés s'arrêtent là)" in text
    assert "depuis le rapprochement du 1er septembre 2026 au 30 septembre 2026 (run_0)" in text
    assert "le 3 novembre 2026" in text  # the resolution's and the decision's day (Paris)
    assert "attendu le 1er octobre 2026" in text and "comptabilisé le 2 octobre 2026" in text
    assert "importé le 3 novembre 2026" in text
    assert not ISO_DAY.search(text), ISO_DAY.findall(text)


def test_the_english_report_writes_its_days_in_words_too() -> None:
    text = _flat(text_of(to_pdf(october_run(), LABELS, "en")))
    assert "Reconciliation, 1 October 2026 to 31 October 2026" in text
    assert "made on 3 November 2026, 00:30 (Paris time)" in text
    assert "on 27 October 2026 (the statements end there)" in text
    assert "since the run of 1 September 2026 to 30 September 2026 (run_0)" in text
    assert "expected on 1 October 2026" in text and "booked on 2 October 2026" in text
    assert "imported on 3 November 2026" in text
    assert not ISO_DAY.search(text), ISO_DAY.findall(text)


def test_the_summary_lines_say_their_days_as_the_pdf_does() -> None:
    """The CLI's one-screen summary (English) and the PDF's summary lines (each language)."""
    run = october_run()
    cli = "\n".join(summary_lines(run))
    assert "run_1: 1 October 2026 to 31 October 2026 (simulator)" in cli
    assert "on 27 October 2026 (the statements end there)" in cli
    assert not ISO_DAY.search(cli), cli
    french = "\n".join(summary_words(run, "fr"))
    assert "au 27 octobre 2026" in french and not ISO_DAY.search(french), french
    assert "importé le 3 novembre 2026" in sources_text(run.sources, "fr")
