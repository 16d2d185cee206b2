"""A bank statement's stored remarks (English, the API's words) said in the page's language:
balances that do not add up and a statement issued again, as the import writes them."""

from __future__ import annotations

from reconciliation.sources.camt053 import parse_camt053
from reconciliation.statement_keys import Earlier, reissue_problem
from regie.finance.remarks import problem_text
from regie.kit.money import format_money
from tests.reconciliation.camt_builder import E, S, camt


def test_balances_that_do_not_add_up_are_said_in_french() -> None:
    statement = S(opening=("5.00", "CRDT"), closing=("16.00", "CRDT"), entries=[E("10.00")])
    (stored,) = parse_camt053(camt(statement), "releve.xml").problems  # as the import stores it
    fr = problem_text(stored, "fr")
    # amounts as the page writes money (the file's "16.00 EUR" was shown on French pages)
    euros = format_money(1600, "EUR", "fr")
    assert fr.startswith("Relevé ") and f"mais le solde de clôture est de {euros}" in fr
    assert f"(un écart de {format_money(100, 'EUR', 'fr')})" in fr
    en = problem_text(stored, "en")
    assert (
        en.startswith("Statement ")
        and f"the closing balance is {format_money(1600, 'EUR', 'en')}" in en
    )


def test_a_statement_issued_again_is_said_in_french_with_its_entries_added() -> None:
    again = S(id="SIMBANK-2026-10-01", seq=12, closing=("160.00", "CRDT"), entries=[E("160.00")])
    (statement,) = parse_camt053(camt(again), "releve2.xml").statements
    stored = reissue_problem(statement, Earlier("releve.xml", 14757, "EUR", "2026-10-01", None), 2)
    assert stored is not None
    fr = problem_text(stored, "fr")
    assert fr == (
        "Le relevé SIMBANK-2026-10-01 a déjà été importé depuis releve.xml avec un solde de "
        f"clôture de {format_money(14757, 'EUR', 'fr')} le 1er octobre 2026\u00a0; ce fichier le "
        f"réémet (2 écritures de plus) avec un solde de clôture de "
        f"{format_money(16000, 'EUR', 'fr')} le 1er octobre 2026\u00a0: le solde de clôture le "
        "plus récent est retenu."
    )
    en = problem_text(stored, "en")
    assert "(2 more entries)" in en and "€147.57 on 1 October 2026" in en
    once = reissue_problem(statement, Earlier("releve.xml", 14757, "EUR", "2026-10-01", None), 0)
    assert once is not None and "réémet avec un solde" in problem_text(once, "fr")
    assert problem_text("something regie never wrote", "fr") == "something regie never wrote"


def test_an_earlier_issue_imported_after_the_later_one_is_said_in_french() -> None:
    """The bank's morning issue imported after its evening one: the remark names both
    creation times and says the evening's balance is kept, in the page's language."""
    morning = S(id="SIMBANK-2026-10-01", seq=12, closing=("160.00", "CRDT"), entries=[E("160.00")])
    (statement,) = parse_camt053(camt(morning), "matin.xml").statements
    evening = Earlier("soir.xml", 14757, "EUR", "2026-10-01", "2026-10-02T07:00:00+00:00")
    stored = reissue_problem(statement, evening, 1, "2026-10-02T06:00:00+00:00")
    assert stored is not None and stored.endswith("the closing balance of the later issue is kept")
    fr = problem_text(stored, "fr")
    assert fr == (
        "Le relevé SIMBANK-2026-10-01 a déjà été importé depuis soir.xml, créé le "
        "2 octobre 2026 à 07:00:00 (UTC+00:00), avec un solde de clôture de "
        f"{format_money(14757, 'EUR', 'fr')} le 1er octobre 2026\u00a0; ce fichier en est une "
        "émission antérieure, créée le 2 octobre 2026 à 06:00:00 (UTC+00:00), avec 1 écriture "
        "de plus et un solde de clôture de "
        f"{format_money(16000, 'EUR', 'fr')} le 1er octobre 2026\u00a0: le solde de clôture de "
        "l'émission la plus récente est conservé."
    )
    en = problem_text(stored, "en")
    assert en.startswith("Statement SIMBANK-2026-10-01 was imported") and (
        "created 2 October 2026 at 06:00:00 (UTC+00:00), with 1 more entry and closing" in en
    )
    # a time without an offset against one with: not comparable, the import order decides
    naive = reissue_problem(statement, evening, 1, "2026-10-02T06:00:00")
    assert naive is not None and naive.endswith("the later closing balance is used")


def test_two_issues_created_within_one_second_are_told_apart() -> None:
    """A bank writing its creation times to the fraction of a second: the evening issue at
    18:00:00.5, the earlier one at 18:00:00.25. Both were written "18:00:00", so the remark
    said the issue kept and the one set aside were created at the same time."""
    morning = S(id="SIMBANK-2026-10-01", seq=12, closing=("160.00", "CRDT"), entries=[E("160.00")])
    (statement,) = parse_camt053(camt(morning), "matin.xml").statements
    evening = Earlier("soir.xml", 14757, "EUR", "2026-10-01", "2026-10-02T18:00:00.500000+01:00")
    stored = reissue_problem(statement, evening, 0, "2026-10-02T18:00:00.250000+01:00")
    assert stored is not None
    fr, en = problem_text(stored, "fr"), problem_text(stored, "en")
    assert "créé le 2 octobre 2026 à 18:00:00,5 (UTC+01:00)" in fr, fr
    assert "créée le 2 octobre 2026 à 18:00:00,25 (UTC+01:00)" in fr, fr
    assert "created 2 October 2026 at 18:00:00.5 (UTC+01:00)" in en, en
    assert "created 2 October 2026 at 18:00:00.25 (UTC+01:00)" in en, en
    # a time to the second is written as before
    whole = reissue_problem(statement, evening, 0, "2026-10-02T18:00:00+01:00")
    assert whole is not None and "à 18:00:00 (UTC+01:00)" in problem_text(whole, "fr")
