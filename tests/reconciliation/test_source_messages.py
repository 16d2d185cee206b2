"""The readers' refusals in English and French: every message of the catalogue in both
languages with the same values, every refusal raised in the code a message of it (so none
stays English on a French page), the English the API and the command line say unchanged."""

from __future__ import annotations

import ast
import datetime as dt
import pickle
import re
import string
from pathlib import Path

import pytest

from reconciliation.period import out_of_range_words
from reconciliation.sources.camt053 import parse_camt053
from reconciliation.sources.camt053_account import import_account
from reconciliation.sources.errors import SourceError
from reconciliation.sources.messages import LANGS, MESSAGES, Message, msg
from reconciliation.sources.stripe_csv import parse_stripe_payout_csv
from tests.reconciliation.test_reconcile_api import IBAN, camt

ROOT = Path(__file__).resolve().parents[2]
# every module that raises a refusal: the domain package, and the command line
SOURCES = sorted((ROOT / "reconciliation").rglob("*.py")) + [ROOT / "regie" / "cli_reconcile.py"]
NBSP = "\u00a0"


def names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_is_in_both_languages_with_the_same_values(key: str) -> None:
    words = MESSAGES[key]
    assert set(words) == set(LANGS), key
    assert all(words[lang].strip() for lang in LANGS), key
    assert names(words["fr"]) == names(words["en"]), key
    # French typography: a no-break space before ":", ";" and "?" (not inside hh:mm:ss)
    assert not re.search(rf"[^{NBSP}][:;?](\s|$)", words["fr"]), words["fr"]
    assert not re.search(rf"{NBSP}[:;?]", words["en"]), words["en"]


def _calls(tree: ast.AST) -> list[tuple[ast.Call, ast.AST | None]]:
    """Every call with the function it is made in (None at module level)."""
    found: list[tuple[ast.Call, ast.AST | None]] = []

    def walk(node: ast.AST, func: ast.AST | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else func
            if isinstance(child, ast.Call):
                found.append((child, func))
            walk(child, inner)

    walk(tree, None)
    return found


def _name(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _a_message(node: ast.AST, func: ast.AST | None) -> bool:
    """``msg(...)``, a refusal's ``.words``, or a name its function types ``Message`` (a
    parameter, or ``words: Message = ...``: mypy holds the code to it)."""
    if isinstance(node, ast.Call):
        return _name(node) == "msg"
    if isinstance(node, ast.Attribute):
        return node.attr == "words"
    if isinstance(node, ast.Name) and isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        a = func.args
        typed = [(x.arg, x.annotation) for x in a.posonlyargs + a.args + a.kwonlyargs]
        typed += [
            (x.target.id, x.annotation)
            for x in ast.walk(func)
            if isinstance(x, ast.AnnAssign) and isinstance(x.target, ast.Name)
        ]
        return any(
            name == node.id and annotation is not None and ast.unparse(annotation) == "Message"
            for name, annotation in typed
        )
    return False


def test_every_refusal_raised_is_a_message_of_the_catalogue() -> None:
    """Would fail for a ``SourceError(file, line, f"...")``, a ``fail(el, "...")`` or a
    period's refusal in plain text: a sentence no French page could say in French. Every
    ``msg`` names a key of the catalogue with exactly its values, and every key is used."""
    refusals = {"SourceError", "fail", "PeriodError", "CheckError"}
    used: set[str] = set()
    wrong: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for call, func in _calls(tree):
            where = f"{path.relative_to(ROOT)}:{call.lineno}"
            name = _name(call)
            if name in refusals and call.args:
                message = call.args[-1] if name != "CheckError" else call.args[1]
                if name == "PeriodError":
                    message = call.args[0]
                if not _a_message(message, func):
                    wrong.append(f"{where}: {name}({ast.unparse(message)[:60]})")
            if name == "msg":
                key = call.args[0] if call.args else None
                if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
                    wrong.append(f"{where}: msg without a literal key")
                    continue
                if key.value not in MESSAGES:
                    wrong.append(f"{where}: no message {key.value!r}")
                    continue
                used.add(key.value)
                given = {k.arg for k in call.keywords}
                if None in given or given != names(MESSAGES[key.value]["en"]):
                    wrong.append(f"{where}: {key.value} given {sorted(map(str, given))}")
    assert not wrong, "\n".join(wrong)
    assert used == set(MESSAGES), set(MESSAGES) - used


def test_a_refusal_says_its_place_in_the_language_asked() -> None:
    err = SourceError("statement.xml", 42, msg("file_empty"))
    assert str(err) == "statement.xml, line 42: the file is empty" == err.text("en")
    assert err.message == "the file is empty"
    assert err.text("fr") == f"statement.xml, ligne 42{NBSP}: le fichier est vide"
    whole = SourceError("a.csv", None, msg("file_empty"))
    assert (str(whole), whole.text("fr")) == (
        "a.csv: the file is empty",
        f"a.csv{NBSP}: le fichier est vide",
    )
    again = pickle.loads(pickle.dumps(err))
    assert (again.text("fr"), str(again)) == (err.text("fr"), str(err))
    # a reason given as text is said as given, in English, in every language
    plain = SourceError("a.csv", 3, "something a caller wrote")
    assert plain.text("fr") == f"a.csv, ligne 3{NBSP}: something a caller wrote"
    assert Message("file_empty").text("de") == "the file is empty"  # no German: English


def test_an_entry_in_another_currency_is_said_in_french() -> None:
    data = camt([("BNK-1", "10.00", "A"), ("BNK-2", "5.00", "B")]).replace(
        b'<Amt Ccy="EUR">5.00</Amt>', b'<Amt Ccy="USD">5.00</Amt>'
    )
    with pytest.raises(SourceError) as exc:
        import_account(parse_camt053(data, "usd_entry.xml"), IBAN, "EUR")
    assert str(exc.value) == (
        "usd_entry.xml, line 1: statement STMT-1: the entry is in USD, the account in EUR"
    )
    assert exc.value.text("fr") == (
        f"usd_entry.xml, ligne 1{NBSP}: relevé STMT-1{NBSP}: l'écriture est en USD, le compte en EUR"
    )


REPORT = (
    "automatic_payout_id,balance_transaction_id,created,currency,gross,fee,net,reporting_category\n"
)


@pytest.mark.parametrize(
    ("row", "en", "fr"),
    [
        (
            "po_1,txn_1,2026-10-03 10:00:00,eur,8.50,0.38,8.13,charge",
            "gross 8.50 - fee 0.38 = 8.12, but net is 8.13",
            "brut 8.50 - frais 0.38 = 8.12, mais le net est 8.13",
        ),
        (  # a value's message, wrapped by its column
            "po_1,txn_1,2026-10-03 10:00:00,eur,8.505,0.38,8.12,charge",
            "column gross: value 8.505 has more decimals than EUR allows",
            f"colonne gross{NBSP}: la valeur 8.505 a plus de décimales que EUR n'en permet",
        ),
        (
            "po_1,txn_1,2026-10-03 10:00:00,xyz,8.50,0.38,8.12,charge",
            "column currency: unknown currency 'XYZ' (not an ISO 4217 code)",
            f"colonne currency{NBSP}: devise inconnue 'XYZ' (ce n'est pas un code ISO 4217)",
        ),
        (
            "po_1,txn_1,yesterday,eur,8.50,0.38,8.12,charge",
            "column created: 'yesterday' is not a time (YYYY-MM-DD hh:mm:ss, UTC)",
            f"colonne created{NBSP}: 'yesterday' n'est pas une date et heure "
            "(AAAA-MM-JJ hh:mm:ss, UTC)",
        ),
    ],
)
def test_a_bad_stripe_row_is_said_in_french(row: str, en: str, fr: str) -> None:
    with pytest.raises(SourceError) as exc:
        parse_stripe_payout_csv((REPORT + row + "\n").encode(), "payouts.csv")
    assert str(exc.value) == f"payouts.csv, line 2: {en}"
    assert exc.value.text("fr") == f"payouts.csv, ligne 2{NBSP}: {fr}"


def test_a_page_writes_days_in_words_the_api_and_the_command_line_in_iso() -> None:
    """A day in a refusal (``datetime.date``) is written in words in a page's language
    (``text(lang)``: ``1er janvier 2019``, ``1 January 2019``, as the pages write one), in
    ISO 8601 in the API's and the command line's English (``text()``, ``str``). A value as
    the file writes it (text) stays as written."""
    nothing = msg("nothing_to_reconcile", first=dt.date(2019, 1, 1), last=dt.date(2019, 1, 31))
    assert (
        str(nothing)
        == nothing.text()
        == (
            "Nothing to reconcile from 2019-01-01 to 2019-01-31: no PSP line, no ledger entry and "
            "no bank entry in that period."
        )
    )
    assert nothing.text("fr").startswith(
        f"Rien à rapprocher du 1er janvier 2019 au 31 janvier 2019{NBSP}: aucune ligne"
    )
    assert nothing.text("en").startswith(
        "Nothing to reconcile from 1 January 2019 to 31 January 2019: no PSP line"
    )
    wrong = out_of_range_words(dt.date(1, 1, 2), dt.date(1, 1, 31))
    assert wrong is not None and wrong[0] == "period_from"
    assert wrong[1].text() == (
        "period_from 0001-01-02 is out of range: regie reconciles days from 2000-01-01 to "
        "9998-12-31."
    )
    assert wrong[1].text("fr") == (
        f"Le début de la période, 2 janvier 1, est hors limites{NBSP}: regie rapproche les "
        "jours du 1er janvier 2000 au 31 décembre 9998."
    )
    assert wrong[1].text("en").endswith("days from 1 January 2000 to 31 December 9998.")
    # a statement of another period: the file's days, read, in words on a page
    err = SourceError(
        "old.xml",
        1,
        msg(
            "statement_other_period",
            earliest=dt.date(2025, 3, 1),
            latest=dt.date(2025, 3, 31),
            first=dt.date(2026, 10, 1),
            last=dt.date(2026, 10, 31),
        ),
    )
    assert str(err) == f"old.xml, line 1: {err.message}"
    assert "from 2025-03-01 to 2025-03-31, none from 2026-10-01 to 2026-10-31" in str(err)
    assert (
        f"old.xml, ligne 1{NBSP}: ses soldes et écritures sont datés du 1er mars 2025 au 31 mars "
        "2025, aucun du 1er octobre 2026 au 31 octobre 2026"
    ) in err.text("fr")
    assert "from 1 March 2025 to 31 March 2025, none from 1 October 2026" in err.text("en")
    again = pickle.loads(pickle.dumps(err))
    assert (again.text("fr"), str(again)) == (err.text("fr"), str(err))
    # a report's time out of range: regie's limits in words, the file's value as written
    with pytest.raises(SourceError) as exc:
        parse_stripe_payout_csv(
            (REPORT + "po_1,txn_1,0001-01-01 00:00:00,eur,8.50,0.38,8.12,charge\n").encode(),
            "payouts.csv",
        )
    assert str(exc.value).endswith(
        "'0001-01-01 00:00:00' is out of range (from 2000-01-01 to 9999-01-01, UTC)"
    )
    assert exc.value.text("fr").endswith(
        "'0001-01-01 00:00:00' est hors limites (du 1er janvier 2000 au 1er janvier 9999, UTC)"
    )
