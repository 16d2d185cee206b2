"""The reconciliation's stored English reasons and remarks, said in the page's language."""

from __future__ import annotations

import pytest

from reconciliation.banking import (
    REASON_NAMED_BUT_OFF,
    REASON_SEVERAL_CANDIDATES,
    REASON_SEVERAL_COMBINATIONS,
)
from reconciliation.sources.camt053_checks import sequence_gaps
from reconciliation.sources.camt053_model import Statement
from regie.finance.remarks import actor_text, problem_text, reason_text
from regie.kit.tenancy import KeyLabel


def statement(seq: int) -> Statement:
    return Statement(f"SIMBANK-{seq}", seq, None, None, "FR76", None, "EUR", (), (), 1)


@pytest.mark.parametrize(
    ("reason", "fr"),
    [
        (REASON_NAMED_BUT_OFF, "Le crédit cite ce virement, mais son montant ou sa date diffère."),
        (REASON_SEVERAL_CANDIDATES, "Même montant, plusieurs candidats\u00a0: choisissez le bon."),
        (REASON_SEVERAL_COMBINATIONS, "Plusieurs combinaisons font ce montant\u00a0: choisissez"),
    ],
)
def test_every_reason_the_matching_stores_is_said_in_french_and_english(
    reason: str, fr: str
) -> None:
    assert reason_text(reason, "fr").startswith(fr)
    english = reason_text(reason, "en")
    assert english[0].isupper() and english.lower().startswith(reason.split(",")[0].split(";")[0])


def test_an_unknown_reason_is_shown_as_stored() -> None:
    assert reason_text("a human wrote this", "fr") == "a human wrote this"


@pytest.mark.parametrize(
    ("previous", "seq", "fr"),
    [
        (
            9862,
            9832,
            "Relevé SIMBANK-9832\u00a0: le numéro de séquence électronique 9832 ne suit pas "
            "9862 (relevé en double ou dans le désordre).",
        ),
        (
            10,
            12,
            "Relevé SIMBANK-12\u00a0: le numéro de séquence électronique 12 suit 10\u00a0; "
            "le relevé 11 manque.",
        ),
        (
            10,
            14,
            "Relevé SIMBANK-14\u00a0: le numéro de séquence électronique 14 suit 10\u00a0; "
            "les relevés 11 à 13 manquent.",
        ),
    ],
)
def test_the_sequence_remarks_of_a_statement_import_are_said_in_french(
    previous: int, seq: int, fr: str
) -> None:
    (stored,) = sequence_gaps(previous, [statement(seq)])
    assert problem_text(stored, "fr") == fr
    english = problem_text(stored, "en")
    assert english.startswith(f"Statement SIMBANK-{seq}: electronic sequence number {seq}")


def test_an_unknown_remark_is_shown_as_stored() -> None:
    assert problem_text("statement X has no opening", "fr") == "statement X has no opening"


def test_who_ran_or_decided_is_named_by_the_key_s_service_role_and_prefix() -> None:
    labels = {"key_01ABC": KeyLabel("rk_live_fin_", "finance", "Régie de recettes")}
    assert actor_text("key_01ABC", labels, "fr") == (
        "la clé finance de Régie de recettes (rk_live_fin_…)"
    )
    assert actor_text("key_01ABC", labels, "en") == (
        "the finance key of Régie de recettes (rk_live_fin_…)"
    )
    assert actor_text("key_01ABC", labels, "fr", signer=True) == (
        "Régie de recettes, clé finance rk_live_fin_…"
    )
    assert actor_text("cli", labels, "fr") == "la ligne de commande"
    assert actor_text("cli", labels, "en", signer=True) == "Command line"
    assert actor_text("key_gone", labels, "fr") == "la clé key_gone"
