"""A run's report as a PDF (reportlab, landscape A4), in French or English: its summary, its
discrepancies with their resolutions, its suggestions with their decisions. The words and
the summary are ``reconciliation.report``'s, shared with the CSV and the CLI."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from reconciliation.actors import Label, actor_text
from reconciliation.report import DAY_ZONE, REASONS, day_in_words, period_words, summary_words
from reconciliation.report_words import say
from reconciliation.schemas import RunOut, SuggestionOut
from regie.kit.i18n import format_date, format_day
from regie.kit.money import format_money


def to_pdf(run: RunOut, labels: Mapping[str, Label] | None = None, lang: str = "en") -> bytes:
    """The run's report, in ``lang`` (``fr`` or English), who ran and decided said from the
    keys' ``labels``. Every cell is a paragraph that wraps, references sit one a line in
    a column wide enough for an id, and a resolution note (up to 2,000 characters) has a
    full-width row of its own under its discrepancy: no row outgrows a page, however many
    discrepancies, however long the note (a row taller than a page would still split)."""
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    labels = labels or {}
    buf = io.BytesIO()
    title = say("title", lang, **period_words(run, lang))
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=title,
        author="regie",
        creator="regie",
        lang=lang,
    )
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=8, leading=10)
    story: list[Any] = [
        Paragraph(_esc(title), styles["Title"]),
        Paragraph(_esc(say("period_days", lang)), small),
        Paragraph(
            _esc(
                say(
                    "meta",
                    lang,
                    id=run.id,
                    when=format_date(run.created_at, lang, tz=DAY_ZONE.key, with_time=True),
                    actor=actor_text(run.actor, labels, lang),
                    sha=run.inputs_sha256[:16],
                )
            ),
            small,
        ),
        Spacer(1, 4 * mm),
    ]
    for line in summary_words(run, lang):
        story.append(Paragraph(_esc(line), small))
    story.append(Spacer(1, 4 * mm))

    def cell(text: object) -> Paragraph:
        return Paragraph(_esc("" if text is None else str(text)), small)

    def refs(d: Any) -> Paragraph:
        pairs = [("ref_psp", d.psp_reference), ("ref_payout", d.payout_id),
                 ("ref_bank", d.bank_reference), ("ref_ledger", d.ledger_entry)]  # fmt: skip
        lines = [f"{_esc(say(k, lang))} {_esc(v)}" for k, v in pairs if v]
        return Paragraph("<br/>".join(lines), small)

    head = [say(k, lang) for k in ("col_category", "col_status", "col_amount",
                                   "col_references", "col_detail")]  # fmt: skip
    rows: list[list[Any]] = [head]
    spans: list[int] = []
    for d in run.discrepancies:
        rows.append(
            [cell(say(f"cat_{d.category}", lang)), cell(say(f"status_{d.status}", lang)),
             cell(format_money(d.amount, d.currency, lang)), refs(d), cell(d.detail)]
        )  # fmt: skip
        r = d.resolution
        if r:
            spans.append(len(rows))
            note = say("resolution", lang, note=r.note, when=day_in_words(r.created_at, lang),
                       actor=actor_text(r.actor, labels, lang, signer=True))  # fmt: skip
            rows.append([cell(note), "", "", "", ""])
    widths = [40 * mm, 20 * mm, 28 * mm, 85 * mm, 100 * mm]
    if len(rows) == 1:  # "everything matched" only when no tie-out printed above differs
        none = "no_discrepancy" if all(t.difference == 0 for t in run.tie_outs) else (
            "no_discrepancy_tie_out_differs")  # fmt: skip
        story.append(Paragraph(_esc(say(none, lang)), styles["BodyText"]))
    else:
        story.append(_table(rows, widths, spans))
    if run.suggestions:
        story.append(Spacer(1, 4 * mm))
        story.append(Paragraph(_esc(say("suggestions", lang)), styles["Heading3"]))
        keys = ("col_payouts", "col_bank_entries", "col_bank_amount", "col_sides_difference",
                "col_why", "col_status")  # fmt: skip
        srows: list[list[Any]] = [[cell(say(k, lang)) for k in keys]]  # headers that wrap
        for x in run.suggestions:
            payouts, credits = _sides(x, lang)
            diff = "—" if x.difference is None else format_money(x.difference, x.currency, lang)
            srows.append(
                [Paragraph(payouts, small), Paragraph(credits, small),
                 cell(format_money(x.amount, x.currency, lang)), cell(diff),
                 cell(_suggestion_why(x, labels, lang)), cell(say(f"suggestion_status_{x.status}", lang))]
            )  # fmt: skip
        widths = [70 * mm, 70 * mm, 26 * mm, 26 * mm, 56 * mm, 25 * mm]
        story.append(_table(srows, widths, []))
    doc.build(story)
    return buf.getvalue()


def _sides(x: SuggestionOut, lang: str) -> tuple[str, str]:
    """A suggestion's payouts and bank credits, one per line with their amount and day
    (only their ids for a suggestion stored before both sides were kept), as markup."""
    if x.payouts is None or x.bank_credits is None:
        return ("<br/>".join(_esc(p) for p in x.payout_ids),
                "<br/>".join(_esc(b) for b in x.bank_references))  # fmt: skip

    def line(ref: str, amount: int, words: str) -> str:
        return f"{_esc(ref)}<br/>{_esc(format_money(amount, x.currency, lang))} · {_esc(words)}"

    return (
        "<br/>".join(line(p.id, p.amount, say("side_expected", lang, day=format_day(p.date, lang)))
                     for p in x.payouts),
        "<br/>".join(line(c.reference, c.amount, say("side_booked", lang,
                                                     day=format_day(c.date, lang)))
                     for c in x.bank_credits),
    )  # fmt: skip


def _suggestion_why(x: SuggestionOut, labels: Mapping[str, Label], lang: str) -> str:
    key = REASONS.get(x.reason)
    why = say(
        "why", lang, kind=say(f"kind_{x.kind}", lang), reason=say(key, lang) if key else x.reason
    )
    d = x.decision
    if d is None:
        return why
    actor = actor_text(d.actor, labels, lang, signer=True)
    when = day_in_words(d.created_at, lang)
    said = (
        say("decision", lang, note=d.note, actor=actor, when=when)
        if d.note
        else say("decision_no_note", lang, actor=actor, when=when)
    )
    if x.decided_after_run:  # not in this run's figures
        said += " " + say(f"after_run_{x.status}", lang)
    return f"{why} {said}"


def _table(rows: list[list[Any]], widths: list[float], spans: list[int]) -> Any:
    """A table whose header repeats on each page and whose rows may split across pages;
    ``spans``: the rows (a resolution) spanning the whole width."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, repeatRows=1, colWidths=widths, splitInRow=1)
    style: list[Any] = [
        ("FONTSIZE", (0, 0), (-1, 0), 8),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for i in spans:
        style.append(("SPAN", (0, i), (-1, i)))
        style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f5f5f5")))
    table.setStyle(TableStyle(style))
    return table


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
