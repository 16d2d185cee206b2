"""What the reconciliation stores in English (a suggestion's reason, a bank statement's
remarks) or as ids (who ran or decided: ``reconciliation.actors``, shared with the reports),
said in the page's language. Pure.

The stored texts are the stable codes: the API returns them as they are, the workspace
translates them when it shows them. A text not known here is shown as stored.
"""

from __future__ import annotations

import re

from reconciliation.actors import CLI_ACTOR, actor_text
from reconciliation.banking import (
    REASON_NAMED_BUT_OFF,
    REASON_SEVERAL_CANDIDATES,
    REASON_SEVERAL_COMBINATIONS,
)
from regie.kit.i18n import translate_in

REASONS: dict[str, str] = {
    REASON_SEVERAL_CANDIDATES: "reason_several_candidates",
    REASON_NAMED_BUT_OFF: "reason_named_but_off",
    REASON_SEVERAL_COMBINATIONS: "reason_several_combinations",
}

# (pattern of the stored English remark, key of its words)
PROBLEMS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"statement (?P<statement>\S+): electronic sequence number (?P<seq>\d+) does not "
            r"follow (?P<previous>\d+) \(repeated or out of order\)"
        ),
        "problem_sequence_back",
    ),
    (
        re.compile(
            r"statement (?P<statement>\S+): electronic sequence number (?P<seq>\d+) follows "
            r"(?P<previous>\d+): (?P<first>\d+) to (?P<last>\d+) missing"
        ),
        "problem_sequence_gap_range",
    ),
    (
        re.compile(
            r"statement (?P<statement>\S+): electronic sequence number (?P<seq>\d+) follows "
            r"(?P<previous>\d+): (?P<first>\d+) missing"
        ),
        "problem_sequence_gap_one",
    ),
]

WORDS: dict[str, dict[str, str]] = {
    "reason_several_candidates": {
        "fr": "Même montant, plusieurs candidats\u00a0: choisissez le bon.",
        "en": "Same amount, several candidates: choose the right one.",
    },
    "reason_named_but_off": {
        "fr": "Le crédit cite ce virement, mais son montant ou sa date diffère.",
        "en": "The credit names the payout; its amount or date is off.",
    },
    "reason_several_combinations": {
        "fr": "Plusieurs combinaisons font ce montant\u00a0: choisissez la bonne.",
        "en": "Several combinations sum to the amount: choose the right one.",
    },
    "problem_sequence_back": {
        "fr": "Relevé {statement}\u00a0: le numéro de séquence électronique {seq} ne suit pas "
        "{previous} (relevé en double ou dans le désordre).",
        "en": "Statement {statement}: electronic sequence number {seq} does not follow "
        "{previous} (repeated or out of order).",
    },
    "problem_sequence_gap_range": {
        "fr": "Relevé {statement}\u00a0: le numéro de séquence électronique {seq} suit "
        "{previous}\u00a0; les relevés {first} à {last} manquent.",
        "en": "Statement {statement}: electronic sequence number {seq} follows {previous}; "
        "{first} to {last} are missing.",
    },
    "problem_sequence_gap_one": {
        "fr": "Relevé {statement}\u00a0: le numéro de séquence électronique {seq} suit "
        "{previous}\u00a0; le relevé {first} manque.",
        "en": "Statement {statement}: electronic sequence number {seq} follows {previous}; "
        "{first} is missing.",
    },
}


def reason_text(reason: str, lang: str) -> str:
    """A suggestion's stored reason in ``lang`` (as stored when unknown)."""
    key = REASONS.get(reason)
    return translate_in(WORDS, key, lang) if key else reason


def problem_text(problem: str, lang: str) -> str:
    """A bank statement import's stored remark in ``lang`` (as stored when unknown)."""
    for pattern, key in PROBLEMS:
        m = pattern.fullmatch(problem)
        if m:
            return translate_in(WORDS, key, lang, **m.groupdict())
    return problem


__all__ = ["CLI_ACTOR", "actor_text", "problem_text", "reason_text"]
