"""What the reconciliation stores in English (a suggestion's reason, a bank statement's
remarks) or as ids (who ran or decided: ``reconciliation.actors``, shared with the reports),
said in the page's language. Pure.

The stored texts are the stable codes: the API returns them as they are, the workspace
translates them when it shows them. A text not known here is shown as stored.
"""

from __future__ import annotations

import datetime as dt
import re

from reconciliation.actors import CLI_ACTOR, actor_text
from reconciliation.banking import (
    REASON_NAMED_BUT_OFF,
    REASON_SEVERAL_CANDIDATES,
    REASON_SEVERAL_COMBINATIONS,
)
from reconciliation.book import UNEXPECTED_BANK_CREDIT, UNEXPECTED_BANK_DEBIT
from regie.kit.i18n import translate_in
from regie.kit.money import MoneyError, format_money, from_decimal
from regie.kit.web import format_iso_date

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
    (
        re.compile(
            r"statement (?P<statement>\S+): opening balance (?P<opening>\S+ [A-Z]{3}) \+ booked "
            r"entries (?P<entries>\S+ [A-Z]{3}) = (?P<expected>\S+ [A-Z]{3}), but the closing "
            r"balance is (?P<closing>\S+ [A-Z]{3}) \(a difference of (?P<difference>\S+ [A-Z]{3})\)"
        ),
        "problem_balances",
    ),
    (
        re.compile(
            r"statement (?P<statement>\S+)(?: \(electronic sequence (?P<seq>\d+)\))? was "
            r"imported before from (?P<filename>.+) with closing balance (?P<before>\S+ [A-Z]{3}) "
            r"on (?P<day>\d{4}-\d{2}-\d{2}); this file issues it again with (?:(?P<added>\d+) "
            r"entr(?:y|ies) not in it and )?closing balance (?P<after>\S+ [A-Z]{3}) on "
            r"(?P<after_day>\d{4}-\d{2}-\d{2}): the later closing balance is used"
        ),
        "problem_reissued",
    ),
    (
        re.compile(
            r"statement (?P<statement>\S+)(?: \(electronic sequence (?P<seq>\d+)\))? was "
            r"imported before from (?P<filename>.+), created (?P<created>\S+), with closing "
            r"balance (?P<before>\S+ [A-Z]{3}) on (?P<day>\d{4}-\d{2}-\d{2}); this file issues it "
            r"earlier, created (?P<earlier>\S+), with (?:(?P<added>\d+) entr(?:y|ies) not in it "
            r"and )?closing balance (?P<after>\S+ [A-Z]{3}) on (?P<after_day>\d{4}-\d{2}-\d{2}): "
            r"the closing balance of the later issue is kept"
        ),
        "problem_reissued_earlier",
    ),
    (
        re.compile(
            r"entry (?P<ref>\S+) is booked on (?P<day>\d{4}-\d{2}-\d{2}) in this file and was "
            r"imported before as booked on (?P<after_day>\d{4}-\d{2}-\d{2}): the first booking "
            r"day is kept"
        ),
        "problem_rebooked",
    ),
    (
        re.compile(
            r"statement (?P<statement>\S+): (?P<count>\d+) entries carry the bank reference "
            r"(?P<ref>.+) \(lines (?P<lines>\d+(?:, \d+)+)\): each is kept as an entry of its own"
        ),
        "problem_shared_reference",
    ),
    (
        re.compile(
            r"statement (?P<statement>\S+): the entry at line (?P<line>\d+) is a "
            r"(?P<kind>credit|debit) of (?P<amount>\S+ [A-Z]{3}), but its transactions "
            r"\(TxDtls\) add up to (?P<total>\S+ [A-Z]{3}) \(a difference of "
            r"(?P<difference>\S+ [A-Z]{3})\)"
        ),
        "problem_batch_sum",
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
    "problem_balances": {
        "fr": "Relevé {statement}\u00a0: solde d'ouverture {opening} + écritures comptabilisées "
        "{entries} = {expected}, mais le solde de clôture est de {closing} (un écart de "
        "{difference}).",
        "en": "Statement {statement}: opening balance {opening} + booked entries {entries} = "
        "{expected}, but the closing balance is {closing} (a difference of {difference}).",
    },
    "problem_reissued": {
        "fr": "Le relevé {statement} a déjà été importé depuis {filename} avec un solde de "
        "clôture de {before} le {day}\u00a0; ce fichier le réémet {added_fr}avec un solde de "
        "clôture de {after} le {after_day}\u00a0: le solde de clôture le plus récent est retenu.",
        "en": "Statement {statement} was imported before from {filename} with closing balance "
        "{before} on {day}; this file issues it again {added_en}with closing balance {after} on "
        "{after_day}: the later closing balance is used.",
    },
    "problem_reissued_earlier": {
        "fr": "Le relevé {statement} a déjà été importé depuis {filename}, créé le {created}, "
        "avec un solde de clôture de {before} le {day}\u00a0; ce fichier en est une émission "
        "antérieure, créée le {earlier}, {added_fr}un solde de clôture de {after} le "
        "{after_day}\u00a0: le solde de clôture de l'émission la plus récente est conservé.",
        "en": "Statement {statement} was imported before from {filename}, created {created}, "
        "with closing balance {before} on {day}; this file is an earlier issue of it, created "
        "{earlier}, {added_en}closing balance {after} on {after_day}: the closing balance of "
        "the later issue is kept.",
    },
    "problem_rebooked": {
        "fr": "L'écriture {ref} est comptabilisée le {day} dans ce fichier et a déjà été "
        "importée comptabilisée le {after_day} : le premier jour est retenu.",
        "en": "Entry {ref} is booked on {day} in this file and was imported before as booked "
        "on {after_day}: the first booking day is kept.",
    },
    "problem_shared_reference": {
        "fr": "Relevé {statement}\u00a0: {count} écritures portent la référence bancaire {ref} "
        "(lignes {lines})\u00a0: chacune est gardée comme une écriture à part entière.",
        "en": "Statement {statement}: {count} entries carry the bank reference {ref} "
        "(lines {lines}): each is kept as an entry of its own.",
    },
    "problem_batch_sum": {
        "fr": "Relevé {statement}\u00a0: l'écriture de la ligne {line} est un {kind} de "
        "{amount}, mais ses transactions (TxDtls) totalisent {total} (un écart de "
        "{difference}).",
        "en": "Statement {statement}: the entry at line {line} is a {kind} of {amount}, but "
        "its transactions (TxDtls) add up to {total} (a difference of {difference}).",
    },
}

# an entry's direction, in the remarks' words
_KINDS = {"fr": {"credit": "crédit", "debit": "débit"}}


# categories whose detail is the bank's remittance text (its language unknown), not regie's
BANK_TEXT = frozenset({UNEXPECTED_BANK_CREDIT, UNEXPECTED_BANK_DEBIT})


def detail_lang(category: str) -> str | None:
    """The language of a discrepancy's stored detail: regie writes it in English (``en``,
    for the page to mark it so), except the bank's own words (None: unknown)."""
    return None if category in BANK_TEXT else "en"


def reason_text(reason: str, lang: str) -> str:
    """A suggestion's stored reason in ``lang`` (as stored when unknown)."""
    key = REASONS.get(reason)
    return translate_in(WORDS, key, lang) if key else reason


# the remarks' amounts ("147.57 EUR", as the file writes them) and days (ISO)
_AMOUNTS = (
    "opening", "entries", "expected", "closing", "difference", "before", "after", "amount",
    "total",
)  # fmt: skip
_DAYS = ("day", "after_day")
# the remarks' instants (a statement's creation time, ISO as the bank wrote it)
_INSTANTS = ("created", "earlier")
_AT = {"fr": "à", "en": "at"}
_POINT = {"fr": ",", "en": "."}  # before a fraction of a second


def _instant(stored: str, lang: str) -> str:
    """``2026-12-03T18:00:00+01:00`` as a page writes it (``3 décembre 2026 à 18:00:00
    (UTC+01:00)``), the offset the bank wrote kept (none when it wrote none), the fraction
    of a second when it wrote one (``18:00:00,25``: two issues of one second told apart);
    as stored when it is not an ISO instant."""
    try:
        at = dt.datetime.fromisoformat(stored)
    except ValueError:
        return stored
    offset = at.utcoffset()
    zone = ""
    if offset is not None:
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        zone = f" (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"
    day = format_iso_date(at.date().isoformat(), lang)
    fraction = f"{_POINT.get(lang, '.')}{at.microsecond:06d}".rstrip("0") if at.microsecond else ""
    return f"{day} {_AT.get(lang, 'at')} {at:%H:%M:%S}{fraction}{zone}"


def _money(stored: str, lang: str) -> str:
    """``147.57 EUR`` as the page writes money (``147,57 €``); as stored when it is not an
    amount of a known currency."""
    value, _, currency = stored.rpartition(" ")
    try:
        return format_money(from_decimal(value, currency), currency, lang)
    except (MoneyError, ArithmeticError, ValueError, KeyError):
        return stored


def problem_text(problem: str, lang: str) -> str:
    """A bank statement import's stored remark in ``lang`` (as stored when unknown), its
    amounts and days written as the page writes them."""
    for pattern, key in PROBLEMS:
        m = pattern.fullmatch(problem)
        if m:
            found = m.groupdict()
            for name in _AMOUNTS:
                if found.get(name):
                    found[name] = _money(found[name], lang)
            for name in _DAYS:
                if found.get(name):
                    found[name] = format_iso_date(found[name], lang)
            for name in _INSTANTS:
                if found.get(name):
                    found[name] = _instant(found[name], lang)
            if found.get("kind"):
                found["kind"] = _KINDS.get(lang, {}).get(found["kind"], found["kind"])
            if key == "problem_reissued":
                n = int(found.pop("added") or 0)
                found["added_fr"] = f"({n} écriture{'s' if n > 1 else ''} de plus) " if n else ""
                found["added_en"] = f"({n} more entr{'ies' if n > 1 else 'y'}) " if n else ""
                found.pop("seq")
            elif key == "problem_reissued_earlier":
                n = int(found.pop("added") or 0)
                fr, en = f"écriture{'s' if n > 1 else ''}", f"entr{'ies' if n > 1 else 'y'}"
                found["added_fr"] = f"avec {n} {fr} de plus et " if n else "avec "
                found["added_en"] = f"with {n} more {en} and " if n else "with "
                found.pop("seq")
            return translate_in(WORDS, key, lang, **found)
    return problem


__all__ = ["CLI_ACTOR", "actor_text", "problem_text", "reason_text"]
