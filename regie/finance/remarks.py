"""What the reconciliation stores in English (a suggestion's reason, a bank statement's
remarks) or as ids (who ran or decided), said in the page's language. Pure.

The stored texts are the stable codes: the API returns them as they are, the workspace
translates them when it shows them. A text not known here is shown as stored.
"""

from __future__ import annotations

import re

from reconciliation.banking import (
    REASON_NAMED_BUT_OFF,
    REASON_SEVERAL_CANDIDATES,
    REASON_SEVERAL_COMBINATIONS,
)
from regie.kit.i18n import translate_in
from regie.kit.tenancy import KeyLabel

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
    "actor_key": {
        "fr": "la clé {role} de {service} ({prefix}…)",
        "en": "the {role} key of {service} ({prefix}…)",
    },
    "actor_cli": {"fr": "la ligne de commande", "en": "the command line"},
    "actor_unknown": {"fr": "la clé {id}", "en": "the key {id}"},
    "signer_key": {
        "fr": "{service}, clé {role} {prefix}…",
        "en": "{service}, {role} key {prefix}…",
    },
    "signer_cli": {"fr": "Ligne de commande", "en": "Command line"},
    "signer_unknown": {"fr": "Clé {id}", "en": "Key {id}"},
    "key_role_finance": {"fr": "finance", "en": "finance"},
    "key_role_service": {"fr": "de service", "en": "service"},
    "key_role_admin": {"fr": "d'administration", "en": "admin"},
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


CLI_ACTOR = "cli"


def actor_text(actor: str, labels: dict[str, KeyLabel], lang: str, *, signer: bool = False) -> str:
    """Who ran a reconciliation (``signer=False``: "la clé finance de Mairie (rk_live_fin_…)")
    or signed a decision (``signer=True``: "Mairie, clé finance rk_live_fin_…"), from the
    recorded actor: a key's id, or ``cli`` for the command line. Never the raw key id when
    the key is known."""
    form = "signer" if signer else "actor"
    if actor == CLI_ACTOR:
        return translate_in(WORDS, f"{form}_cli", lang)
    label = labels.get(actor)
    if label is None:
        return translate_in(WORDS, f"{form}_unknown", lang, id=actor)
    role = translate_in(WORDS, f"key_role_{label.role}", lang)
    if role.startswith("key_role_"):
        role = label.role
    return translate_in(
        WORDS, f"{form}_key", lang, role=role, service=label.service, prefix=label.prefix
    )
