"""The run's reports: the CLI's one-screen summary, the CSV (exact decimals, no formulas),
the PDF (opened and read back)."""

from __future__ import annotations

import datetime as dt
import io

from pypdf import PdfReader

from reconciliation.report import summary_lines, to_csv
from reconciliation.report_pdf import to_pdf
from reconciliation.schemas import Decision, DiscrepancyOut, RunOut, TieOutOut


def run(**summary: object) -> RunOut:
    at = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    return RunOut(
        id="run_1", period_from=dt.date(2026, 10, 1), period_to=dt.date(2026, 10, 31),
        as_of=dt.date(2026, 11, 2), provider="stripe", sources=[], inputs_sha256="ab" * 32,
        actor="key_1", created_at=at,
        summary={"matched_count": 41, "matched_amount": {"EUR": 123456}, "payouts_matched": 4,
                 "in_transit": ["po_9"], "open": 1, "resolved": 1,
                 "categories": [{"category": "fee_mismatch", "currency": "EUR", "count": 1, "amount": 15},
                                {"category": "unexpected_bank_credit", "currency": "JPY", "count": 1, "amount": 500}],
                 **summary},
        tie_outs=[TieOutOut(name="bank", currency="EUR", ledger=1000, source=1250, difference=250)],
        discrepancies=[
            DiscrepancyOut(id="dsc_1", category="fee_mismatch", amount=15, currency="EUR",
                           status="open", psp_reference="pi_1", payout_id="po_1",
                           bank_reference=None, ledger_entry="je_1", detail="PSP fee 40, ledger fee 25"),
            DiscrepancyOut(id="dsc_2", category="unexpected_bank_credit", amount=500, currency="JPY",
                           status="resolved", psp_reference=None, payout_id=None,
                           bank_reference="=HYPERLINK(\"x\")", ledger_entry=None, detail="-2+3",
                           resolution=Decision(action="resolve", note="@subvention", actor="key_2",
                                               created_at=at)),
        ],
    )  # fmt: skip


def test_summary_names_every_category_with_its_amount_and_the_tie_outs() -> None:
    text = "\n".join(summary_lines(run()))
    assert "matched: 41 items; payments €1,234.56" in text
    assert "Fee mismatch" in text and "€0.15" in text
    assert "Unexpected bank credit" in text and "JP¥\xa0500" in text
    assert "tie-out bank (EUR): ledger €10.00, bank €12.50: differs by €2.50" in text
    assert "still expected: 1" in text and "open: 1; resolved: 1" in text


def test_csv_has_exact_decimals_and_no_formula() -> None:
    rows = to_csv(run()).decode().splitlines()
    assert rows[1].startswith("dsc_1,fee_mismatch,open,0.15,EUR,pi_1,po_1,,je_1,")
    assert rows[2].startswith("dsc_2,unexpected_bank_credit,resolved,500,JPY,")
    assert "'=HYPERLINK" in rows[2] and ",'-2+3," in rows[2] and ",'@subvention," in rows[2]


def test_pdf_reads_back_with_the_period_and_each_discrepancy() -> None:
    pdf = PdfReader(io.BytesIO(to_pdf(run())))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "Reconciliation, 1 October 2026 to 31 October 2026" in text
    assert "Fee mismatch" in text and "pi_1" in text and "Unexpected bank credit" in text
    assert pdf.metadata is not None and pdf.metadata.title.startswith("Reconciliation")


def test_counts_of_one_are_singular_in_both_languages() -> None:
    """ "1 payouts" in the CLI and "1 virements" in the PDF: a count agrees with its noun
    (French takes the singular for 0 and 1, English for 1 only)."""
    from reconciliation.report import summary_words

    one = run(psp_lines=1, ledger_items=1, bank_lines=1, payouts=1, matched_count=1)
    text = "\n".join(summary_lines(one))
    assert "inputs: 1 PSP line, 1 ledger item, 1 bank entry, 1 payout" in text
    assert "matched: 1 item; payments" in text
    fr = "\n".join(summary_words(one, "fr"))
    assert "1 ligne du prestataire, 1 élément du grand livre, 1 écriture bancaire, 1 virement" in fr
    assert "Rapprochés\u00a0: 1 élément\u00a0;" in fr
    none = run(psp_lines=0, ledger_items=2, bank_lines=0, payouts=0, matched_count=0)
    assert "inputs: 0 PSP lines, 2 ledger items, 0 bank entries, 0 payouts" in "\n".join(
        summary_lines(none)
    )
    fr = "\n".join(summary_words(none, "fr"))
    assert (
        "0 ligne du prestataire, 2 éléments du grand livre, 0 écriture bancaire, 0 virement" in fr
    )
    assert "Rapprochés\u00a0: 0 élément\u00a0;" in fr
