"""The workspace's catalog is complete in French and English, and holds every key the pages
and the code ask for (and no other)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from payments.states import InvoiceStatus
from reconciliation.report import CATEGORY_LABELS
from regie.finance.accounts import AccountType
from regie.finance.pages import period_text
from regie.finance.runs import DONE
from regie.finance.words import WORDS
from regie.kit.web import format_date, format_iso_date

PACKAGE = Path(__file__).resolve().parents[2] / "regie" / "finance"
FT_CALL = re.compile(r"\bft\(")
FT_LITERAL = re.compile(r"\bft\(\s*'([a-z0-9_]+)'\s*[,)]")
FT_PREFIX = re.compile(r"\bft\(\s*'([a-z_]+_)'\s*~")
FT_VARIABLE = re.compile(r"\bft\(\s*[a-z_][\w.\[\]]*\s*[,)]")
# the values a template's ``ft('prefix_' ~ value)`` can take
DYNAMIC = {
    "nav_": ["dashboard", "runs", "statements", "ledger", "invoices"],
    "cat_": list(CATEGORY_LABELS),  # every discrepancy category
    "kind_": ["payout_bank", "payout_group", "bank_group"],  # reconciliation.records.Suggestion
    "tie_": ["psp_clearing", "bank"],
    "d_status_": ["open", "resolved"],  # a discrepancy's
    "s_status_": ["open", "confirmed", "rejected"],  # a suggestion's
    "done_": list(DONE),
    "status_": [s.value for s in InvoiceStatus],
    "type_": [t.value for t in AccountType],
    "role_": ["service", "admin"],
}
KEY_LIKE = re.compile(r"^(?:err|notice|role|nav|status|type)_[a-z_]+$")


def keys_in_templates() -> set[str]:
    found: set[str] = set()
    for path in sorted((PACKAGE / "templates").rglob("*.html")):
        text = path.read_text()
        literal, prefixed = FT_LITERAL.findall(text), FT_PREFIX.findall(text)
        variable = FT_VARIABLE.findall(text)
        assert len(literal) + len(prefixed) + len(variable) == len(FT_CALL.findall(text)), path
        found |= set(literal)
        for prefix in prefixed:
            found |= {prefix + value for value in DYNAMIC[prefix]}
    return found


def keys_in_python() -> set[str]:
    """``word('key', …)`` calls, and key-like string constants (errors, notices) that the
    templates show through a variable."""
    found: set[str] = set()
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "word":
                arg = node.args[0]
                options = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
                found |= {o.value for o in options if isinstance(o, ast.Constant)}
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and KEY_LIKE.match(node.value)
            ):
                found.add(node.value)
    return found


def test_every_word_is_in_french_and_english_with_the_same_placeholders() -> None:
    def names(text: str) -> set[str]:
        return {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}

    for key, entry in WORDS.items():
        assert set(entry) == {"fr", "en"}, key
        assert entry["fr"].strip() and entry["en"].strip(), key
        assert names(entry["fr"]) == names(entry["en"]), key


def test_french_puts_a_no_break_space_before_colons() -> None:
    for key, entry in WORDS.items():
        assert " :" not in entry["fr"] and " ;" not in entry["fr"], key


def test_every_key_in_use_is_in_the_catalog_and_every_word_is_used() -> None:
    used = keys_in_templates() | keys_in_python()
    assert used - set(WORDS) == set(), "missing from regie/finance/words.py"
    role_like = {k for k in WORDS if k.startswith("role_")}
    assert set(WORDS) - used - role_like == set(), "unused words"


def test_durations_read_in_hours_when_whole() -> None:
    from regie.finance.words import duration

    assert duration(480, "fr") == "8 heures" and duration(480, "en") == "8 hours"
    assert duration(60, "fr") == "1 heure" and duration(90, "en") == "90 minutes"
    assert duration(1, "fr") == "1 minute"


def test_a_word_in_both_catalogues_is_refused() -> None:
    """The shell's and reconciliation's words are one catalogue: a key in both would hide
    one of them, so merging them refuses it."""
    import pytest

    from regie.finance.words import _merged

    one = {"done": {"fr": "Fait", "en": "Done"}}
    assert _merged(one, {"other": {"fr": "Autre", "en": "Other"}}).keys() == {"done", "other"}
    with pytest.raises(ValueError, match="done"):
        _merged(one, {"done": {"fr": "Terminé", "en": "Finished"}})


def test_each_category_and_kind_has_one_name_in_the_pdf_the_cli_and_the_pages() -> None:
    """The PDF, the CLI's summary and the pages once named a category each their own way
    ("Missing at the PSP", "Missing at the provider"): one catalogue names them now."""
    from reconciliation.report_words import WORDS as REPORT

    for category, english in CATEGORY_LABELS.items():
        assert WORDS[f"cat_{category}"] == REPORT[f"cat_{category}"], category
        assert english == REPORT[f"cat_{category}"]["en"], category
    for kind in DYNAMIC["kind_"]:
        assert WORDS[f"kind_{kind}"] == REPORT[f"kind_{kind}"], kind


def test_the_first_of_a_month_is_written_1er_in_french() -> None:
    """French writes the first day of a month « 1er » (« le 1er décembre »); the pages said
    « 1 décembre 2026 ». English keeps « 1 December 2026 »; other days are unchanged."""
    assert format_iso_date("2026-12-01", "fr") == "1er décembre 2026"
    assert format_iso_date("2026-12-01", "en") == "1 December 2026"
    assert format_iso_date("2026-12-11", "fr") == "11 décembre 2026"
    assert format_date("2026-11-30T23:30:00+00:00", "fr", with_time=True) == (
        "1er décembre 2026 à 00:30"
    )
    assert period_text("2026-10-01", "2026-10-31", "fr") == "du 1er octobre 2026 au 31 octobre 2026"
