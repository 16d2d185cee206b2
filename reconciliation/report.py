"""A run's report as CSV and the CLI's one-screen summary, and the words its PDF shares
(``reconciliation.report_pdf``) (pure: a run in, bytes or lines out)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from reconciliation.actors import Label, actor_text
from reconciliation.banking import (
    REASON_NAMED_BUT_OFF,
    REASON_SEVERAL_CANDIDATES,
    REASON_SEVERAL_COMBINATIONS,
)
from reconciliation.report_words import LABELS, counted, say
from reconciliation.schemas import RunOut, TieOutOut
from regie.kit.i18n import format_date, format_day
from regie.kit.money import format_money, to_decimal
from regie.kit.spreadsheet import BOM, safe_cell

REASONS = {
    REASON_SEVERAL_CANDIDATES: "reason_several_candidates",
    REASON_NAMED_BUT_OFF: "reason_named_but_off",
    REASON_SEVERAL_COMBINATIONS: "reason_several_combinations",
}

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

# a decision's day and the run's time as the workspace shows them
# (``regie.finance.forms.TIMEZONE``): in the public body's time zone, not UTC's (a
# resolution at 00:30 in Paris is the next day's)
DAY_ZONE = ZoneInfo("Europe/Paris")


def day_in_words(at: dt.datetime, lang: str) -> str:
    """An instant's day in Paris, in words as the pages write it (``3 novembre 2026``)."""
    return format_date(at, lang, tz=DAY_ZONE.key)


def period_words(run: RunOut, lang: str) -> dict[str, str]:
    """The run's first and last days in words (``1er octobre 2026``, ``31 octobre 2026``)."""
    return {"start": format_day(run.period_from, lang), "end": format_day(run.period_to, lang)}


# the CLI's summary names each category in English, as the PDF and the pages do
CATEGORY_LABELS = {
    key.removeprefix("cat_"): label["en"] for key, label in LABELS.items() if key.startswith("cat_")
}


def to_csv(run: RunOut, labels: Mapping[str, Label] | None = None, lang: str = "en") -> bytes:
    """The discrepancies, a row each: the column names and codes are stable machine names in
    every language; ``resolved_by`` says who as the pages do (the key's service, role and
    prefix, or the command line: ``labels`` are the keys' labels), in ``lang``."""
    labels = labels or {}
    out = io.StringIO()
    out.write(BOM)  # for Excel, which reads a CSV without it in the Windows code page
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for d in run.discrepancies:
        r = d.resolution
        w.writerow(
            [
                safe_cell(x)
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
                    actor_text(r.actor, labels, lang, signer=True) if r else "",
                    r.created_at.isoformat() if r else "",
                )
            ]
        )
    return out.getvalue().encode("utf-8")


def _inputs(s: dict[str, Any], lang: str) -> dict[str, str]:
    """The run's inputs counted, each with its noun in ``lang``."""
    got = {"psp": "psp_lines", "ledger": "ledger_items", "bank": "bank_lines",
           "payouts": "payouts"}  # fmt: skip
    return {noun: counted(s.get(key, 0), noun, lang) for noun, key in got.items()}


# what a tie-out's ``in_transit`` is called: the bank's payouts are in transit; the clearing
# account's objects were booked by one side across the period's edge (no payout is
# "expected" there: the two sides recorded the same money on two sides of midnight)
_TRANSIT = {"bank": "tie_in_transit", "psp_clearing": "tie_cut_off"}


def summary_lines(run: RunOut) -> list[str]:
    """The CLI's one-screen summary."""
    s = run.summary
    lines = [
        f"Reconciliation {run.id}: {say('period', 'en', **period_words(run, 'en'))} ({run.provider})",
        "  " + say("period_days", "en"),
        "  " + say("inputs", "en", **_inputs(s, "en")),
    ]
    matched = s.get("matched_amount") or {}
    amounts = ", ".join(format_money(v, c, "en") for c, v in sorted(matched.items())) or "0"
    lines.append(f"  matched: {counted(s.get('matched_count', 0), 'items', 'en')}; "
                 f"payments {amounts}")  # fmt: skip
    lines.append(
        f"  payouts matched to the bank: {s.get('payouts_matched', 0)}; "
        f"still expected: {len(s.get('in_transit') or [])}"
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
        transit = (
            say(
                _TRANSIT.get(t.name, "tie_in_transit"),
                "en",
                amount=format_money(t.in_transit, t.currency, "en"),
            )
            if t.in_transit
            else ""
        )
        lines.append(
            f"  tie-out {t.name} ({t.currency}): ledger {format_money(t.ledger, t.currency, 'en')}, "
            f"{'PSP' if t.name == 'psp_clearing' else 'bank'} {format_money(t.source, t.currency, 'en')}"
            f"{balance_of(run, t, 'en')}{transit}: {verdict}{unbalanced_of(t, 'en')}"
        )
    return lines


def summary_words(run: RunOut, lang: str) -> list[str]:
    """The PDF's summary: what ``summary_lines`` says, in ``lang``."""
    s = run.summary
    matched = s.get("matched_amount") or {}
    amounts = ", ".join(format_money(v, c, lang) for c, v in sorted(matched.items())) or "0"
    lines = [
        say("inputs", lang, **_inputs(s, lang)),
        say("matched", lang, count=counted(s.get("matched_count", 0), "items", lang),
            amounts=amounts),
        say("payouts", lang, matched=s.get("payouts_matched", 0),
            transit=len(s.get("in_transit") or [])),
    ]  # fmt: skip
    cats = s.get("categories") or []
    for c in cats:
        lines.append(
            say("category_line", lang, label=say(f"cat_{c['category']}", lang), count=c["count"],
                amount=format_money(c["amount"], c["currency"], lang))
        )  # fmt: skip
    if not cats:
        lines.append(say("no_discrepancy_line", lang))
    lines.append(
        say("open_line", lang, open=s.get("open", 0), resolved=s.get("resolved", 0),
            suggestions=sum(1 for x in run.suggestions if x.status == "open"))
    )  # fmt: skip
    for t in run.tie_outs:
        verdict = (
            say("tie_agrees", lang)
            if t.difference == 0
            else say("tie_differs", lang, amount=format_money(t.difference, t.currency, lang))
        )
        transit = (
            say(
                _TRANSIT.get(t.name, "tie_in_transit"),
                lang,
                amount=format_money(t.in_transit, t.currency, lang),
            )
            if t.in_transit
            else ""
        )
        lines.append(
            say(f"tie_{t.name}", lang, currency=t.currency,
                verdict=verdict + unbalanced_of(t, lang),
                ledger=format_money(t.ledger, t.currency, lang),
                source=format_money(t.source, t.currency, lang), transit=transit,
                balance_of=balance_of(run, t, lang))
        )  # fmt: skip
    if run.sources:
        lines.append(sources_text(run.sources, lang))
    return lines


def balance_of(run: RunOut, t: TieOutOut, lang: str) -> str:
    """The day of the bank's closing balance, when it is before the period's last; the
    statement whose opening balance is compared, when one is."""
    if t.opening_of is not None:
        o = t.opening_of
        return say("tie_opening_of", lang, statement=o.statement, day=format_day(o.day, lang))
    if t.as_of is None or t.as_of >= run.period_to:
        return ""
    return say("tie_balance_of", lang, day=format_day(t.as_of, lang))


def unbalanced_of(t: TieOutOut, lang: str) -> str:
    """After a bank tie-out's verdict: the run its difference was carried from, and its
    statement, when that does not add up."""
    c, u, money = t.carried_from, t.unbalanced_statement, ("computed", "closing", "difference")
    since = "" if c is None else say("tie_carried", lang, first=format_day(c.period_from, lang),
                                     last=format_day(c.period_to, lang), run=c.run_id)  # fmt: skip
    return since + ("" if u is None else say("tie_unbalanced", lang, statement=u.statement, **{
        k: format_money(getattr(u, k), t.currency, lang) for k in money}))  # fmt: skip


def sources_text(sources: list[dict[str, Any]], lang: str) -> str:
    """What a run read, in a line: the provider, the files it was given, and the statements
    imported before whose entries or closing balance it used."""

    def one(src: dict[str, Any]) -> str:
        if src.get("kind") == "psp":
            return say("source_psp", lang, provider=src.get("provider"))
        sha = str(src.get("sha256", ""))[:12]
        if src.get("kind") == "bank_statement":
            at = str(src.get("imported_at", ""))
            when = day_in_words(dt.datetime.fromisoformat(at), lang) if at else ""
            return say("source_import", lang, filename=src.get("filename"), sha=sha, when=when)
        return say("source_file", lang, filename=src.get("filename"), sha=sha)

    parts = say("sources_separator", lang).join(one(src) for src in sources)
    return f"{say('run_sources', lang)} {parts}"
