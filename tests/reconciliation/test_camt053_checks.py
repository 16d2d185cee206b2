"""Consistency findings (reported in ``problems``, never raised) and exact amounts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from reconciliation.sources import values
from reconciliation.sources.camt053 import parse_camt053, sequence_gaps
from reconciliation.sources.camt053_model import Statement
from reconciliation.sources.errors import SourceError
from regie.kit.money import CURRENCIES

from .camt_builder import E, S, camt


def text(minor: int, exponent: int, extra_zeros: int) -> str:
    """Minor units written as ISO 20022 does: 1815, 2, 1 -> '18.150'."""
    major = format(Decimal(minor).scaleb(-exponent), "f")
    if extra_zeros:
        major += ("" if "." in major else ".") + "0" * extra_zeros
    return major


@given(
    minor=st.integers(min_value=0, max_value=10**15),
    code=st.sampled_from(sorted(CURRENCIES)),
    extra_zeros=st.integers(min_value=0, max_value=5),
)
def test_any_minor_amount_written_with_trailing_zeros_reads_back_exactly(
    minor: int, code: str, extra_zeros: int
) -> None:
    written = text(minor, CURRENCIES[code], extra_zeros)
    assert values.minor_units(written, code, "f", 1) == minor


@given(
    minor=st.integers(min_value=1, max_value=10**12),
    code=st.sampled_from(sorted(c for c, e in CURRENCIES.items() if e < 4)),
)
def test_one_digit_too_many_is_refused(minor: int, code: str) -> None:
    exponent = CURRENCIES[code]
    written = text(minor, exponent, 0) + ("" if exponent else ".") + "5"
    try:
        values.minor_units(written, code, "f", 7)
    except SourceError as exc:
        assert exc.line == 7 and f"more decimals than {code} allows" in exc.message
    else:
        raise AssertionError(f"{written} {code} was accepted")


entries = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10**9),
        st.sampled_from(["CRDT", "DBIT"]),
        st.sampled_from(["BOOK", "BOOK", "PDNG", "INFO"]),
    ),
    max_size=12,
)


def signed_balance(minor: int) -> tuple[str, str]:
    return text(abs(minor), 2, 1), "DBIT" if minor < 0 else "CRDT"


@given(
    opening=st.integers(min_value=-(10**9), max_value=10**9),
    rows=entries,
    version=st.integers(min_value=2, max_value=8),
)
def test_consistent_statements_have_no_problem(
    opening: int, rows: list[tuple[int, str, str]], version: int
) -> None:
    booked = sum(a if d == "CRDT" else -a for a, d, s in rows if s == "BOOK")
    statement = S(
        opening=signed_balance(opening),
        closing=signed_balance(opening + booked),
        entries=[E(text(a, 2, 0), d, s) for a, d, s in rows],
    )
    f = parse_camt053(camt(statement, version=version), "gen.xml")
    assert f.problems == ()
    (s,) = f.statements
    assert s.opening is not None and s.opening.amount == opening
    assert [(e.amount, e.direction, e.status) for e in s.entries] == [
        (a, "credit" if d == "CRDT" else "debit", st_) for a, d, st_ in rows
    ]


@given(
    opening=st.integers(min_value=-(10**9), max_value=10**9),
    rows=entries,
    delta=st.integers(min_value=-(10**6), max_value=10**6).filter(bool),
)
def test_a_closing_balance_off_by_any_amount_is_one_problem_naming_the_difference(
    opening: int, rows: list[tuple[int, str, str]], delta: int
) -> None:
    booked = sum(a if d == "CRDT" else -a for a, d, s in rows if s == "BOOK")
    statement = S(
        id="STMT-X",
        opening=signed_balance(opening),
        closing=signed_balance(opening + booked + delta),
        entries=[E(text(a, 2, 0), d, s) for a, d, s in rows],
    )
    (problem,) = parse_camt053(camt(statement), "gen.xml").problems
    assert problem.startswith("statement STMT-X: opening balance")
    assert f"(a difference of {values.money_text(delta, 'EUR')})" in problem


def test_an_entry_in_another_currency_is_reported() -> None:
    f = parse_camt053(
        camt(S(closing=("1.00", "CRDT"), entries=[E("1.00"), E("5.00", currency="USD")])), "x.xml"
    )
    assert f.problems[0] == "statement S1: the entry at line 11 is in USD, the account in EUR"
    assert "mix EUR, USD" in f.problems[1]


def test_sequence_gaps_inside_a_file_per_account() -> None:
    other = "DE89370400440532013000"
    f = parse_camt053(
        camt(
            S(id="A1", seq=10),
            S(id="B1", seq=3, iban=other),
            S(id="A2", seq=11),
            S(id="B2", seq=6, iban=other),
            S(id="A3", seq=None),
            S(id="A4", seq=11),
        ),
        "x.xml",
    )
    assert f.problems == (
        "statement A4: electronic sequence number 11 does not follow 11 (repeated or out of order)",
        "statement B2: electronic sequence number 6 follows 3: 4 to 5 missing",
    )


def _stmts(*seqs: int | None) -> list[Statement]:
    f = parse_camt053(camt(*(S(id=f"S{n}", seq=s) for n, s in enumerate(seqs))), "x.xml")
    return list(f.statements)


def test_sequence_gaps_across_files() -> None:
    assert sequence_gaps(None, _stmts(5, 6, 7)) == []
    assert sequence_gaps(4, _stmts(5, 6)) == []
    assert sequence_gaps(3, _stmts(5)) == [
        "statement S0: electronic sequence number 5 follows 3: 4 missing"
    ]
    assert sequence_gaps(7, _stmts(5)) == [
        "statement S0: electronic sequence number 5 does not follow 7 (repeated or out of order)"
    ]
    assert sequence_gaps(1, _stmts(None, 2, None, 3)) == []
    assert sequence_gaps(None, []) == []


def test_a_statement_without_balances_says_it_cannot_be_checked() -> None:
    (problem,) = parse_camt053(camt(S(opening=None, closing=None)), "x.xml").problems
    assert problem == (
        "statement S1 has no opening (OPBD or PRCD) and no closing (CLBD) balance: "
        "its entries cannot be checked against its balances"
    )
