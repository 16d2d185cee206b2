"""A run's report as CSV, PDF and the CLI's one-screen summary (pure: a run in, bytes out)."""

from __future__ import annotations

import csv
import io

from reconciliation.schemas import RunOut
from regie.kit.money import format_money, to_decimal

CSV_COLUMNS = (
    "id",
    "category",
    "status",
    "amount",
    "currency",
    "psp_reference",
    "payout_id",
    "bank_reference",
    "ledger_entry",
    "detail",
    "resolution_note",
    "resolved_by",
    "resolved_at",
)

CATEGORY_LABELS = {
    "missing_in_ledger": "Missing in the ledger",
    "missing_at_psp": "Missing at the PSP",
    "amount_mismatch": "Amount mismatch",
    "currency_mismatch": "Currency mismatch",
    "fee_mismatch": "Fee mismatch",
    "duplicate": "Duplicate",
    "payout_mismatch": "Payout mismatch",
    "missing_in_bank": "Missing in the bank",
    "unexpected_bank_credit": "Unexpected bank credit",
    "unexpected_bank_debit": "Unexpected bank debit",
}


def _safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(run: RunOut) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for d in run.discrepancies:
        r = d.resolution
        w.writerow(
            [
                _safe(x)
                for x in (
                    d.id,
                    d.category,
                    d.status,
                    to_decimal(d.amount, d.currency),
                    d.currency,
                    d.psp_reference,
                    d.payout_id,
                    d.bank_reference,
                    d.ledger_entry,
                    d.detail,
                    r.note if r else "",
                    r.actor if r else "",
                    r.created_at.isoformat() if r else "",
                )
            ]
        )
    return out.getvalue().encode("utf-8")


def summary_lines(run: RunOut) -> list[str]:
    """The CLI's one-screen summary."""
    s = run.summary
    lines = [
        f"Reconciliation {run.id}: {run.period_from} to {run.period_to} ({run.provider})",
        f"  inputs: {s.get('psp_lines', 0)} PSP lines, {s.get('ledger_items', 0)} ledger "
        f"items, {s.get('bank_lines', 0)} bank entries, {s.get('payouts', 0)} payouts",
    ]
    matched = s.get("matched_amount") or {}
    amounts = ", ".join(format_money(v, c, "en") for c, v in sorted(matched.items())) or "0"
    lines.append(f"  matched: {s.get('matched_count', 0)} items; payments {amounts}")
    lines.append(
        f"  payouts matched to the bank: {s.get('payouts_matched', 0)}; "
        f"in transit: {len(s.get('in_transit') or [])}"
    )
    cats = s.get("categories") or []
    if cats:
        lines.append("  discrepancies:")
        for c in cats:
            label = CATEGORY_LABELS.get(c["category"], c["category"])
            money = format_money(c["amount"], c["currency"], "en")
            lines.append(f"    {label:<24} {c['count']:>6}  {money}")
    else:
        lines.append("  discrepancies: none")
    lines.append(
        f"  open: {s.get('open', 0)}; resolved: {s.get('resolved', 0)}; "
        f"suggestions to review: {sum(1 for x in run.suggestions if x.status == 'open')}"
    )
    for t in run.tie_outs:
        verdict = (
            "agrees"
            if t.difference == 0
            else f"differs by {format_money(t.difference, t.currency, 'en')}"
        )
        lines.append(
            f"  tie-out {t.name} ({t.currency}): ledger {format_money(t.ledger, t.currency, 'en')}, "
            f"{'PSP' if t.name == 'psp_clearing' else 'bank'} {format_money(t.source, t.currency, 'en')}: {verdict}"
        )
    return lines


def to_pdf(run: RunOut) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"Reconciliation {run.period_from} - {run.period_to}",
        author="regie",
        creator="regie",
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    story: list[object] = [
        Paragraph(f"Reconciliation {run.period_from} to {run.period_to}", styles["Title"]),
        Paragraph(
            f"Run {run.id}, made {run.created_at:%Y-%m-%d %H:%M} UTC by {run.actor}; "
            f"inputs checksum {run.inputs_sha256[:16]}…",
            small,
        ),
        Spacer(1, 4 * mm),
    ]
    for line in summary_lines(run)[1:]:
        story.append(Paragraph(_esc(line.strip()), small))
    story.append(Spacer(1, 4 * mm))

    def cell(text: object) -> Paragraph:
        return Paragraph(_esc("" if text is None else str(text)), small)

    head = [
        "Category",
        "Status",
        "Amount",
        "PSP",
        "Payout",
        "Bank",
        "Ledger",
        "Detail",
        "Resolution",
    ]
    rows: list[list[object]] = [list(head)]
    for d in run.discrepancies:
        r = d.resolution
        rows.append(
            [cell(CATEGORY_LABELS.get(d.category, d.category)), cell(d.status),
             cell(format_money(d.amount, d.currency, "en")), cell(d.psp_reference),
             cell(d.payout_id), cell(d.bank_reference), cell(d.ledger_entry), cell(d.detail),
             cell(f"{r.note} ({r.actor}, {r.created_at:%Y-%m-%d})" if r else "")]
        )  # fmt: skip
    widths = [30 * mm, 16 * mm, 22 * mm, 30 * mm, 30 * mm, 30 * mm, 28 * mm, 45 * mm, 42 * mm]
    if len(rows) == 1:
        story.append(Paragraph("No discrepancy: everything matched.", styles["BodyText"]))
    else:
        story.append(_table(rows, widths, colors, TableStyle, Table))
    if run.suggestions:
        story.append(Spacer(1, 4 * mm))
        story.append(Paragraph("Suggested matches (a human decides)", styles["Heading3"]))
        srows: list[list[object]] = [["Payouts", "Bank entries", "Amount", "Why", "Status"]]
        for x in run.suggestions:
            srows.append(
                [cell(", ".join(x.payout_ids)), cell(", ".join(x.bank_references)),
                 cell(format_money(x.amount, x.currency, "en")), cell(x.reason), cell(x.status)]
            )  # fmt: skip
        story.append(
            _table(srows, [60 * mm, 60 * mm, 25 * mm, 80 * mm, 25 * mm], colors, TableStyle, Table)
        )
    doc.build(story)  # type: ignore[arg-type]
    return buf.getvalue()


def _table(rows, widths, colors, table_style, table_cls):  # type: ignore[no-untyped-def]
    table = table_cls(rows, repeatRows=1, colWidths=widths)
    table.setStyle(
        table_style(
            [
                ("FONTSIZE", (0, 0), (-1, 0), 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
