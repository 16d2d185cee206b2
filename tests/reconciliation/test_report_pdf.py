"""The run's PDF whatever it holds: the longest note the API accepts and hundreds of
discrepancies, ids never cut mid-word, who decided said as the pages say it (never a raw
key id), and the report in French when asked."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from pypdf import PdfReader

from reconciliation.report import to_csv
from reconciliation.report_pdf import to_pdf
from reconciliation.report_words import WORDS
from reconciliation.schemas import Decision, DiscrepancyOut, RunOut, SuggestionOut, TieOutOut
from regie.kit.tenancy import KeyLabel

AT = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
LONGEST_NOTE = ("Subvention de la prefecture. " * 69)[:2000]
PAYOUT = "po_sim_01M8X8HP0XYVNY9QXYRRCZF2P1"
BANK = "SIMBANK01M8X8HP0XYVNY9QXYRRCZF2P1"
LABELS = {"key_01FIN": KeyLabel("rk_test_fin_ab12", "finance", "Trésorerie")}


def big_run(n: int = 300) -> RunOut:
    decided = Decision(action="resolve", note=LONGEST_NOTE, actor="key_01FIN", created_at=AT)
    dis = [
        DiscrepancyOut(id=f"dsc_{i}", category="unexpected_bank_credit", amount=150000 + i,
                       currency="EUR", status="resolved" if i % 2 == 0 else "open",
                       psp_reference=None, payout_id=PAYOUT, bank_reference=f"{BANK}{i}",
                       ledger_entry=None, detail="SUBVENTION PREFECTURE ARRETE 2026-114 " * 5,
                       resolution=decided if i % 2 == 0 else None)
        for i in range(n)
    ]  # fmt: skip
    sug = SuggestionOut(
        id="sug_1", kind="payout_bank", payout_ids=[PAYOUT], bank_references=[BANK],
        amount=800, currency="EUR", reason="the credit names the payout; its amount or date is off",
        status="rejected", decision=Decision(action="reject", note="", actor="cli", created_at=AT),
    )  # fmt: skip
    return RunOut(
        id="run_1", period_from=dt.date(2026, 12, 1), period_to=dt.date(2026, 12, 31),
        as_of=dt.date(2026, 12, 31), provider="simulator", sources=[], inputs_sha256="ab" * 32,
        actor="key_01FIN", created_at=AT,
        summary={"matched_count": 2, "matched_amount": {"EUR": 9350}, "open": n // 2,
                 "resolved": n - n // 2, "categories": [
                     {"category": "unexpected_bank_credit", "currency": "EUR", "count": n,
                      "amount": 150000 * n}]},
        tie_outs=[], discrepancies=dis, suggestions=[sug],
    )  # fmt: skip


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_longest_note_and_many_discrepancies_render_on_as_many_pages_as_needed() -> None:
    pdf = to_pdf(big_run(), LABELS)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) > 10
    text = text_of(pdf)
    assert text.count("dsc_") == 0  # the ids of the findings are the API's, not the report's
    assert text.count(f"{BANK}299") == 1 and text.count("Unexpected bank credit") >= 300


def test_one_note_of_the_longest_size_alone_renders() -> None:
    run = big_run(1)
    text = " ".join(text_of(to_pdf(run, LABELS)).split())
    assert "Subvention de la prefecture. Subvention" in text
    assert text.count("Subvention de la prefecture.") >= 60


def test_ids_are_never_cut_mid_word() -> None:
    lines = text_of(to_pdf(big_run(3), LABELS)).splitlines()
    assert any(PAYOUT in line for line in lines), "a payout id was cut across lines"
    assert any(f"{BANK}2" in line for line in lines), "a bank reference was cut across lines"


def test_who_is_said_as_the_pages_say_it_never_as_a_raw_key_id() -> None:
    run = big_run(2)
    text = " ".join(text_of(to_pdf(run, LABELS)).split())
    assert "key_01FIN" not in text
    assert "by the finance key of Trésorerie (rk_test_fin_ab12…)" in text
    assert "Trésorerie, finance key rk_test_fin_ab12…" in text
    assert "Command line" in text  # the rejected suggestion, decided from the command line
    rows = list(csv.DictReader(io.StringIO(to_csv(run, LABELS).decode())))
    assert rows[0]["resolved_by"] == "Trésorerie, finance key rk_test_fin_ab12…"
    assert rows[1]["resolved_by"] == ""
    assert "key_01FIN" not in to_csv(run, LABELS).decode()


def test_the_report_speaks_french_when_asked_and_keeps_the_csv_machine_names() -> None:
    run = big_run(2)
    text = " ".join(text_of(to_pdf(run, LABELS, "fr")).split())
    assert "Rapprochement du 1er décembre 2026 au 31 décembre 2026" in text
    assert "Crédit bancaire inattendu" in text and "Unexpected bank credit" not in text
    assert "par la clé finance de Trésorerie" in text
    assert "1 500,00" in text  # French money
    assert "Le crédit cite ce virement" in text and "Rejetée" in text
    assert "Virement ↔ crédit bancaire : Le crédit" in text

    assert to_csv(run, LABELS, "fr").startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    head = to_csv(run, LABELS, "fr").decode("utf-8-sig").splitlines()[0]
    assert head.startswith("id,category,status,amount,currency") and head.endswith(
        "resolution_note,resolved_by,resolved_at"
    )
    assert ",unexpected_bank_credit,resolved,1500.00,EUR," in to_csv(run, LABELS, "fr").decode()


def test_the_report_words_are_in_both_languages_with_french_punctuation() -> None:
    for key, entry in WORDS.items():
        assert set(entry) == {"fr", "en"}, key
        assert " :" not in entry["fr"] and " ;" not in entry["fr"], key
        assert not re.search(
            r"\S[:;]", entry["fr"].replace("\u00a0:", "").replace("\u00a0;", "")
        ), key


def _quiet_run(bank_difference: int) -> RunOut:
    """A run of a period after the tour's month: nothing of its own to find, and the bank
    tie-out apart by the prefecture's grant (resolved in December's run) or agreeing."""
    tie = TieOutOut(name="bank", currency="EUR", ledger=8347, source=8347 + bank_difference,
                    difference=bank_difference, as_of=dt.date(2027, 1, 29))  # fmt: skip
    return RunOut(
        id="run_2", period_from=dt.date(2027, 1, 1), period_to=dt.date(2027, 1, 31),
        as_of=dt.date(2027, 1, 31), provider="simulator", sources=[], inputs_sha256="cd" * 32,
        actor="cli", created_at=AT, summary={"matched_count": 0, "open": 0, "resolved": 0},
        tie_outs=[tie], discrepancies=[], suggestions=[],
    )  # fmt: skip


def test_no_discrepancy_is_not_everything_matched_while_a_tie_out_differs() -> None:
    """The PDF is what is filed: a tie-out it prints as differing one line above is not
    "everything matched", in either language."""
    for lang in ("en", "fr"):
        apart = " ".join(text_of(to_pdf(_quiet_run(150000), LABELS, lang)).split())
        assert "everything matched" not in apart and "tout est rapproché" not in apart
        assert " ".join(WORDS["no_discrepancy_tie_out_differs"][lang].split()) in apart
        agreeing = " ".join(text_of(to_pdf(_quiet_run(0), LABELS, lang)).split())
        assert " ".join(WORDS["no_discrepancy"][lang].split()) in agreeing


def test_the_time_a_run_was_made_is_paris_time_as_its_days_are() -> None:
    """A run made at 23:30 UTC on 2 December was made at 00:30 on the 3rd in Paris, the day
    the report's other dates are in: the PDF says so, in both languages."""
    run = big_run(2).model_copy(
        update={"created_at": dt.datetime(2026, 12, 2, 23, 30, tzinfo=dt.UTC)}
    )
    english = " ".join(text_of(to_pdf(run, LABELS)).split())
    assert "made on 3 December 2026, 00:30 (Paris time) by" in english
    french = " ".join(text_of(to_pdf(run, LABELS, lang="fr")).split())
    assert "lancé le 3 décembre 2026 à 00:30 (heure de Paris) par" in french
    # (the time is Paris time; only the period's days are said to be UTC days)
    assert "UTC" not in english.split(" Run ")[1].split("inputs checksum")[0]
