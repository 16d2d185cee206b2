"""One catalog of receipt words (``receipts.words``): complete in French and English, and
every key that the PDF, the Factur-X notes and the HTML pages ask for is in it.

The keys in use are read from the sources: in Python, the first argument of every
``word(...)`` call (a string, or ``a if cond else b`` of strings); in the templates,
every ``rt('key', ...)`` and ``rt('prefix_' ~ v.field, ...)``, whose suffixes are the
values that field can take. The split modules of the receipt are pure: their imports are
checked against a short list.
"""

from __future__ import annotations

import ast
import re
import string
import sys
from pathlib import Path
from typing import get_args

import pytest

from receipts.document import KINDS, LANGUAGES
from receipts.router import VerificationOut
from receipts.words import WORDS, word

PACKAGE = Path(__file__).resolve().parents[2] / "receipts"
TEMPLATES = PACKAGE / "templates"

# What a template's dynamic key can end with: ``rt('status_' ~ v.status, lang)``.
DYNAMIC = {
    "status": get_args(VerificationOut.model_fields["status"].annotation),
    "kind": KINDS,
}
RT_CALL = re.compile(r"\brt\(")
RT_KEY = re.compile(r"\brt\(\s*'([a-z_]+)'\s*(?:~\s*\w+\.(\w+)\s*)?,")


def keys_in_python(path: Path) -> set[str]:
    """The keys of every ``word(...)`` call in a module; fails on a key it cannot read."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        if node.func.id != "word":
            continue
        arg = node.args[0]
        options = [arg.body, arg.orelse] if isinstance(arg, ast.IfExp) else [arg]
        for option in options:
            assert isinstance(option, ast.Constant) and isinstance(option.value, str), (
                f"{path.name}:{node.lineno}: word() takes a literal key, so that it can be checked"
            )
            found.add(option.value)
    return found


def keys_in_template(path: Path) -> set[str]:
    text = path.read_text()
    matches = RT_KEY.findall(text)
    assert len(matches) == len(RT_CALL.findall(text)), f"{path.name}: an rt() call not understood"
    found: set[str] = set()
    for key, field in matches:
        if field:
            found |= {key + value for value in DYNAMIC[field]}
        else:
            found.add(key)
    return found


def keys_in_use() -> dict[str, set[str]]:
    used = {p.name: keys_in_python(p) for p in sorted(PACKAGE.glob("*.py"))}
    used |= {p.name: keys_in_template(p) for p in sorted(TEMPLATES.glob("*.html"))}
    return {name: keys for name, keys in used.items() if keys}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_every_word_is_in_french_and_english_with_the_same_placeholders() -> None:
    assert set(LANGUAGES) == {"fr", "en"}
    for key, texts in WORDS.items():
        assert set(texts) == {"fr", "en"}, key
        assert all(isinstance(t, str) and t.strip() for t in texts.values()), key
        assert placeholders(texts["fr"]) == placeholders(texts["en"]), key


def test_every_key_the_pdf_the_xml_and_the_pages_use_is_in_the_catalog() -> None:
    used = keys_in_use()
    # The scan sees every place that prints receipt words (it cannot come back empty).
    assert set(used) == {
        "facturx_xml.py",
        "render.py",
        "words.py",
        "receipt.html",
        "verify.html",
    }
    assert {"title_receipt", "title_credit_note", "verify_help"} <= used["render.py"]
    assert {"facturx_paid", "facturx_refunded", "vat_exemption_reason"} <= used["facturx_xml.py"]
    assert {"status_genuine", "status_unknown", "kind_credit_note"} <= used["verify.html"]
    for name, keys in used.items():
        missing = keys - set(WORDS)
        assert not missing, f"{name} uses words missing from the catalog: {missing}"


def test_every_word_in_the_catalog_is_used() -> None:
    used = set().union(*keys_in_use().values())
    assert set(WORDS) <= used, f"words nothing prints: {set(WORDS) - used}"


def test_the_scan_refuses_a_key_it_cannot_read(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("key = 'page'\nword(key, 'fr')\n")
    with pytest.raises(AssertionError, match="literal key"):
        keys_in_python(module)
    template = tmp_path / "t.html"
    template.write_text("{{ rt(key, lang) }}")
    with pytest.raises(AssertionError, match="not understood"):
        keys_in_template(template)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_word_is_looked_up_in_its_language_and_filled(lang: str) -> None:
    assert word("number", lang, number="2026-000042") == WORDS["number"][lang].format(
        number="2026-000042"
    )
    assert word("continued", lang) == WORDS["continued"][lang]


# --- the split modules are pure ----------------------------------------------------------

PURE = ("document.py", "words.py", "qr.py", "typeset.py", "render.py", "facturx_xml.py")
ALLOWED_THIRD_PARTY = {"babel", "segno", "reportlab", "lxml"}
ALLOWED_OWN = {
    "receipts.document",
    "receipts.words",
    "receipts.qr",
    "receipts.typeset",
    "regie.kit.money",
    "regie.kit.i18n",
}
# Standard modules that reach out of the process, or read the clock.
IMPURE_STDLIB = {"os", "socket", "subprocess", "tempfile", "shutil", "sqlite3", "http", "time"}
IMPURE_STDLIB |= {"asyncio", "urllib.request", "pathlib"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("name", PURE)
def test_the_layout_words_qr_and_xml_modules_import_nothing_that_does_io(name: str) -> None:
    for module in imports_of(PACKAGE / name):
        top = module.split(".")[0]
        if top in ("receipts", "regie"):
            assert module in ALLOWED_OWN, f"{name} imports {module}"
        elif top in sys.stdlib_module_names:
            impure = {m for m in IMPURE_STDLIB if module == m or module.startswith(m + ".")}
            assert not impure, f"{name} imports {module}"
        else:
            assert top == "__future__" or top in ALLOWED_THIRD_PARTY, f"{name} imports {module}"


def test_french_shown_on_pages_puts_a_no_break_space_before_colons_and_semicolons() -> None:
    """The verify page said « authentique ; le paiement » and « annulé : le remboursement »
    with a plain space, which a narrow screen can break before the sign. The Factur-X notes
    (``facturx_*``) are data inside the invoice's XML, not typography, and stay as they are."""
    for key, entry in WORDS.items():
        if key.startswith("facturx_"):
            continue
        fr = entry["fr"]
        assert " :" not in fr and " ;" not in fr, key
