"""README's Configuration table is the operator's list of settings: every setting regie
reads (``regie.kit.settings.Settings``) has its row there, with the default and the range the
code holds, and every row is a setting the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from annotated_types import Ge, Gt, Le, MaxLen, MinLen

from regie.kit.settings import DEMO_BANK_IBAN, DEV_SECRET_KEY, DEV_SIMULATOR_SECRET, Settings

README = Path(__file__).resolve().parents[2] / "README.md"

# defaults the table words rather than prints (a secret, a long IBAN, a computed one)
WORDED = {
    "REGIE_SECRET_KEY": (DEV_SECRET_KEY, "a dev value"),
    "REGIE_SIMULATOR_WEBHOOK_SECRET": (DEV_SIMULATOR_SECRET, "a dev value"),
    "REGIE_BANK_IBAN": (DEMO_BANK_IBAN, "a French test IBAN"),
    "REGIE_DOCS_ENABLED": (None, "on in development, off in production"),
    "STRIPE_API_BASE": ("", "Stripe's"),
}


def _rows() -> dict[str, tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    table = text[text.index("\n## Configuration\n") : text.index("\n## Tests\n")]
    rows = {}
    for line in table.splitlines():
        m = re.match(r"\| `([A-Z0-9_]+)` \|\s*([^|]*?)\s*\| (.*) \|$", line)
        if m:
            rows[m.group(1)] = (m.group(2).strip(), m.group(3))
    return rows


def _variable(name: str) -> str:
    alias = Settings.model_fields[name].validation_alias
    choices = getattr(alias, "choices", None)
    return str(choices[0]) if choices else f"REGIE_{name.upper()}"


def _shown(value: object) -> str:
    if value is None:  # unset by default: an empty cell
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    reveal = getattr(value, "get_secret_value", None)
    text = str(reveal() if reveal is not None else value)
    return f"`{text}`" if text else ""


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _range(name: str) -> str | None:
    """The range the README gives for a bounded setting ("1–365", "≥ 1", "> 0, ≤ 3600",
    "at most 10 characters"), or None when the code bounds nothing."""
    low: float | None = None
    high: float | None = None
    low_sign, short, long_ = "", None, None
    for m in Settings.model_fields[name].metadata:
        if isinstance(m, Ge):
            low, low_sign = float(str(m.ge)), "≥"
        elif isinstance(m, Gt):
            low, low_sign = float(str(m.gt)), ">"
        elif isinstance(m, Le):
            high = float(str(m.le))
        elif isinstance(m, MinLen):
            short = m.min_length
        elif isinstance(m, MaxLen):
            long_ = m.max_length
    if long_ is not None:
        return f"{short}–{long_} characters" if short else f"at most {long_} characters"
    if low is None and high is None:
        return None
    if low is not None and high is not None and low_sign == "≥":
        return f"{_number(low)}–{_number(high)}"
    parts = [f"{low_sign} {_number(low)}"] if low is not None else []
    parts += [f"≤ {_number(high)}"] if high is not None else []
    return ", ".join(parts)


def test_every_setting_has_its_row_with_the_codes_default() -> None:
    rows = _rows()
    variables = {_variable(name): name for name in Settings.model_fields}
    assert sorted(set(rows) - set(variables)) == [], "rows for settings regie does not read"
    assert sorted(set(variables) - set(rows)) == [], "settings the README does not list"
    for variable, name in variables.items():
        default = Settings.model_fields[name].default
        if variable in WORDED:
            value, words = WORDED[variable]
            assert default == value, variable
            assert rows[variable][0] == words, variable
        else:
            assert rows[variable][0] == _shown(default), variable


def test_every_bounded_setting_says_its_range() -> None:
    rows = _rows()
    for name in Settings.model_fields:
        expected = _range(name)
        if expected is None:
            continue
        variable = _variable(name)
        meaning = rows[variable][1]
        said = re.findall(r"range: ([^)]*)\)", meaning) or re.findall(r"\(range ([^)]*)\)", meaning)
        assert said, f"{variable}: no range in its row ({expected} in the code)"
        # the range, then maybe words about it ("1–1440, a day")
        words = said[-1].removeprefix(expected)
        assert words == "" or (words.startswith(", ") and not re.search(r"\d", words)), (
            f"{variable}: the README says {said[-1]!r}, the code {expected!r}"
        )
