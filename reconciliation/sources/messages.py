"""What the readers (and a run's checks) say of a file or a period they refuse, in English
and French. Pure.

A refusal is a ``Message``: a key of ``MESSAGES`` and its values, some of them messages
too (``the entry``, ``the booking date``). The API and the command line say it in English
(``text()``, the words they always said); the finance workspace in the page's language
(``text("fr")``, ``text("en")``). Each text names its values as ``{name}`` (``{name!r}``
quotes a value as Python does, in both languages); French puts a no-break space (\u00a0)
before ":", ";" and "?". Values read from the file as text (amounts, ids, a date that is not
one) are shown as the file writes them; a day (a ``datetime.date`` value: a period's, regie's
limits, the days a file covers) is written in ISO 8601 by ``text()`` and in words by a
page's ``text(lang)`` (``1er janvier 2019``, ``1 January 2019``: ``regie.kit.i18n.format_day``,
as the pages, the run's report and its summary write a day).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from regie.kit.i18n import format_day

LANGS = ("en", "fr")


@dataclass(frozen=True)
class Message:
    key: str
    values: Mapping[str, object] = field(default_factory=dict)

    def text(self, lang: str | None = None) -> str:
        """The message in a page's ``lang`` (English for a language it is not written in),
        its days in words; without ``lang``, the API's and the command line's English, its
        days in ISO 8601."""
        words = MESSAGES[self.key]
        said = {k: _said(v, lang) for k, v in self.values.items()}
        return (words.get(lang or "en") or words["en"]).format(**said)

    def __str__(self) -> str:
        return self.text()


def _said(value: object, lang: str | None) -> object:
    if isinstance(value, Message):
        return value.text(lang)
    if lang is not None and type(value) is dt.date:  # (a datetime is not a day)
        return format_day(value, lang)
    return value


def msg(key: str, /, **values: object) -> Message:
    """``msg("file_empty")``, ``msg("not_date", what=msg("what_date"), value="2026-13-01")``."""
    return Message(key, values)


MESSAGES: dict[str, dict[str, str]] = {
    # where: the file, and its line when known (``SourceError``)
    "at_file": {"en": "{filename}: {message}", "fr": "{filename}\u00a0: {message}"},
    "at_line": {
        "en": "{filename}, line {line}: {message}",
        "fr": "{filename}, ligne {line}\u00a0: {message}",
    },
    # a message given as text (not from here): said as given, in English
    "plain": {"en": "{text}", "fr": "{text}"},
    # what a value is, and where a part is missing (values of the messages below)
    "what_amount": {"en": "amount", "fr": "le montant"},
    "what_value": {"en": "value", "fr": "la valeur"},
    "what_date": {"en": "date", "fr": "la date"},
    "what_datetime": {"en": "date-time", "fr": "la date et heure"},
    "what_element": {"en": "{name}", "fr": "{name}"},  # an XML path (CreDtTm): no words
    "what_balance_date": {"en": "the balance date", "fr": "la date du solde"},
    "what_booking_date": {"en": "the booking date", "fr": "la date de comptabilisation"},
    "what_value_date": {"en": "the value date", "fr": "la date de valeur"},
    "where_document": {"en": "the document", "fr": "le document"},
    "where_group_header": {"en": "the group header", "fr": "l'en-tête du message"},
    "where_statement": {"en": "the statement", "fr": "le relevé"},
    "where_entry": {"en": "the entry", "fr": "l'écriture"},
    "where_balance": {"en": "the {kind} balance", "fr": "le solde {kind}"},
    "where_transaction": {"en": "the transaction", "fr": "la transaction"},
    "direction_credit": {"en": "credit", "fr": "crédit"},
    "direction_debit": {"en": "debit", "fr": "débit"},
    # the file as a whole
    "file_too_large": {
        "en": "the file is {size} bytes, more than the {limit} allowed",
        "fr": "le fichier fait {size} octets, plus que les {limit} permis",
    },
    "file_nul_only": {
        "en": "the file holds only NUL bytes, no text",
        "fr": "le fichier ne contient que des octets nuls, aucun texte",
    },
    "file_empty": {"en": "the file is empty", "fr": "le fichier est vide"},
    # values (``values``)
    "no_currency": {"en": "amount has no currency", "fr": "le montant n'a pas de devise"},
    "unknown_currency": {
        "en": "unknown currency {code!r} (not an ISO 4217 code)",
        "fr": "devise inconnue {code!r} (ce n'est pas un code ISO 4217)",
    },
    "too_large": {
        "en": "{what} {value} is too large",
        "fr": "{what} {value} dépasse le maximum accepté",
    },
    "too_many_decimals": {
        "en": "{what} {value} has more decimals than {code} allows",
        "fr": "{what} {value} a plus de décimales que {code} n'en permet",
    },
    "not_decimal": {
        "en": "{what} {value!r} is not a decimal number like {example}",
        "fr": "{what} {value!r} n'est pas un nombre décimal comme {example}",
    },
    "not_date": {
        "en": "{what} {value!r} is not a date (YYYY-MM-DD)",
        "fr": "{what} {value!r} n'est pas une date (AAAA-MM-JJ)",
    },
    "not_datetime": {
        "en": "{what} {value!r} is not a date-time (YYYY-MM-DDThh:mm:ss)",
        "fr": "{what} {value!r} n'est pas une date et heure (AAAA-MM-JJThh:mm:ss)",
    },
    # Stripe's CSV report (``stripe_csv``)
    "not_utf8": {"en": "not UTF-8 text", "fr": "ce n'est pas du texte UTF-8"},
    "nul_character": {"en": "a NUL character (\\x00)", "fr": "un caractère NUL (\\x00)"},
    # the parsers' own words (``parser_words``): in English as the parser wrote them
    "parser_other": {"en": "{text}", "fr": "{text} (les mots de l'analyseur, en anglais)"},
    "parser_empty": {"en": "Document is empty", "fr": "le document est vide"},
    "parser_no_tag": {
        "en": "Start tag expected, '<' not found",
        "fr": "il ne commence pas par une balise («\u00a0<\u00a0»)",
    },
    "parser_cut": {
        "en": "Premature end of data in tag {tag} line {line}",
        "fr": "il s'arrête au milieu de la balise {tag} (ouverte ligne {line})",
    },
    "parser_mismatch": {
        "en": "Opening and ending tag mismatch: {opened} line {line} and {closed}",
        "fr": "la balise {opened} (ouverte ligne {line}) est fermée par la balise {closed}",
    },
    "parser_expected": {"en": "expected '{char}'", "fr": "«\u00a0{char}\u00a0» attendu"},
    "parser_extra": {
        "en": "Extra content at the end of the document",
        "fr": "du contenu suit la fin du document",
    },
    "parser_bad_bytes": {
        "en": "Invalid bytes in character encoding",
        "fr": "des octets ne sont pas valides dans l'encodage du fichier",
    },
    "parser_char_value": {
        "en": "{part} invalid Char value {value}",
        "fr": "un caractère que XML n'admet pas (code {value}, dans {part})",
    },
    "parser_char": {
        "en": "Invalid character: Char 0x{code} out of allowed range",
        "fr": "un caractère que XML n'admet pas (0x{code})",
    },
    "parser_depth": {
        "en": "Excessive depth in document: {depth}",
        "fr": "des balises imbriquées sur plus de {depth} niveaux",
    },
    "parser_field": {
        "en": "field larger than field limit ({limit})",
        "fr": "un champ dépasse {limit} caractères",
    },
    "parser_cut_csv": {
        "en": "unexpected end of data",
        "fr": "il s'arrête au milieu d'un champ entre guillemets",
    },
    "parser_after_quote": {
        "en": "'{sep}' expected after '\"'",
        "fr": "«\u00a0{sep}\u00a0» attendu après le guillemet qui ferme un champ",
    },
    "not_csv": {
        "en": "not valid CSV: {detail}",
        "fr": "ce n'est pas un CSV valide\u00a0: {detail}",  # the csv module's words
    },
    "txn_repeated": {
        "en": "balance transaction {txn} is already on line {first}",
        "fr": "la transaction de solde {txn} est déjà à la ligne {first}",
    },
    "payout_currency": {
        "en": "payout {payout} is in {first_currency} (line {first}), this line is in {currency}",
        "fr": "le virement {payout} est en {first_currency} (ligne {first}), cette ligne est "
        "en {currency}",
    },
    "column_twice": {
        "en": "the column {name!r} appears twice in the header",
        "fr": "la colonne {name!r} figure deux fois dans l'en-tête",
    },
    "missing_column": {
        "en": "missing column: {columns} (is this Stripe's itemised payout reconciliation report?)",
        "fr": "colonne manquante\u00a0: {columns} (est-ce bien le rapport «\u00a0Itemised "
        "payout reconciliation\u00a0» de Stripe\u00a0?)",
    },
    "missing_columns": {
        "en": "missing columns: {columns} (is this Stripe's itemised payout reconciliation "
        "report?)",
        "fr": "colonnes manquantes\u00a0: {columns} (est-ce bien le rapport «\u00a0Itemised "
        "payout reconciliation\u00a0» de Stripe\u00a0?)",
    },
    "column": {"en": "column {column}: {message}", "fr": "colonne {column}\u00a0: {message}"},
    "empty": {"en": "empty", "fr": "vide"},
    "not_time": {
        "en": "{value!r} is not a time (YYYY-MM-DD hh:mm:ss, UTC)",
        "fr": "{value!r} n'est pas une date et heure (AAAA-MM-JJ hh:mm:ss, UTC)",
    },
    "time_out_of_range": {
        "en": "{value!r} is out of range (from {earliest} to {latest}, UTC)",
        "fr": "{value!r} est hors limites (du {earliest} au {latest}, UTC)",
    },
    "amount_too_large": {
        "en": "{value} is too large (at most 18 digits)",
        "fr": "{value} a trop de chiffres (18 au plus)",
    },
    "id_too_long": {
        "en": "{length} characters, longer than the {limit} regie keeps",
        "fr": "{length} caractères, plus que les {limit} que regie conserve",
    },
    "field_count": {
        "en": "{fields} fields where the header has {header}",
        "fr": "{fields} champs alors que l'en-tête en a {header}",
    },
    "net_mismatch": {
        "en": "gross {gross} - fee {fee} = {difference}, but net is {net}",
        "fr": "brut {gross} - frais {fee} = {difference}, mais le net est {net}",
    },
    # camt.053 (``camt053``, ``camt053_reader``)
    "declares": {
        "en": "refused: the file declares {marker} (a bank statement has no DTD or entities; "
        "they can be used to attack the reader)",
        "fr": "refusé\u00a0: le fichier déclare {marker} (un relevé bancaire n'a ni DTD ni "
        "entités\u00a0; elles peuvent servir à attaquer le lecteur)",
    },
    "declares_doctype": {
        "en": "refused: the file declares a DOCTYPE",
        "fr": "refusé\u00a0: le fichier déclare un DOCTYPE",
    },
    "not_xml": {
        "en": "not XML: {detail}",
        "fr": "ce n'est pas du XML\u00a0: {detail}",  # libxml2's words
    },
    "not_camt053_document": {
        "en": "not a camt.053 statement: the document is <{name}>",
        "fr": "ce n'est pas un relevé camt.053\u00a0: le document est <{name}>",
    },
    "not_camt053_document_in": {
        "en": "not a camt.053 statement: the document is <{name}> in {namespace}",
        "fr": "ce n'est pas un relevé camt.053\u00a0: le document est <{name}> dans {namespace}",
    },
    "not_camt053_message": {
        "en": "not a camt.053 statement: this is a {kind} message",
        "fr": "ce n'est pas un relevé camt.053\u00a0: c'est un message {kind}",
    },
    "version_unsupported": {
        "en": "camt.053 version 001.{number} is not supported (regie reads 001.{first} to "
        "001.{last})",
        "fr": "la version 001.{number} de camt.053 n'est pas prise en charge (regie lit les "
        "versions 001.{first} à 001.{last})",
    },
    "no_group_header": {
        "en": "the statement message has no <GrpHdr>",
        "fr": "le message de relevés n'a pas de <GrpHdr>",
    },
    "no_statement_element": {
        "en": "the message holds no statement (no <Stmt> element)",
        "fr": "le message ne contient aucun relevé (pas d'élément <Stmt>)",
    },
    "has_no": {"en": "{where} has no <{path}>", "fr": "{where} n'a pas de <{path}>"},
    "too_long": {
        "en": "{path} is {length} characters long; regie keeps at most {limit}",
        "fr": "{path} fait {length} caractères\u00a0; regie en conserve au plus {limit}",
    },
    "bad_direction": {
        "en": "{where}: CdtDbtInd {code!r} is neither CRDT nor DBIT",
        "fr": "{where}\u00a0: CdtDbtInd {code!r} n'est ni CRDT ni DBIT",
    },
    "no_day": {"en": "{what} has neither <Dt> nor <DtTm>", "fr": "{what} n'a ni <Dt> ni <DtTm>"},
    "not_whole_number": {
        "en": "{path} {value!r} is not a whole number",
        "fr": "{path} {value!r} n'est pas un nombre entier",
    },
    "balance_no_type": {
        "en": "the balance has no type (<Tp><CdOrPrtry><Cd>)",
        "fr": "le solde n'a pas de type (<Tp><CdOrPrtry><Cd>)",
    },
    "entry_no_status": {
        "en": "the entry has no status (<Sts>)",
        "fr": "l'écriture n'a pas de statut (<Sts>)",
    },
    "bad_reversal": {
        "en": "RvslInd {value!r} is neither true nor false",
        "fr": "RvslInd {value!r} n'est ni true ni false",
    },
    "entry_no_date": {
        "en": "entry without a booking or value date",
        "fr": "écriture sans date de comptabilisation ni date de valeur",
    },
    # what the import refuses (``camt053_account``, ``camt053_checks``, ``imports``)
    "no_statement": {
        "en": "the file holds no statement",
        "fr": "le fichier ne contient aucun relevé",
    },
    "statement_no_account": {
        "en": "statement {statement} names no account",
        "fr": "le relevé {statement} ne nomme aucun compte",
    },
    "other_account": {
        "en": "statement {statement} is for account {account}, not regie's bank account",
        "fr": "le relevé {statement} est celui du compte {account}, pas du compte bancaire de "
        "regie",
    },
    "statement_currency": {
        "en": "statement {statement} is in {found}; regie's bank account is in {currency}",
        "fr": "le relevé {statement} est en {found}\u00a0; le compte bancaire de regie est en "
        "{currency}",
    },
    "entry_currency": {
        "en": "entry in {found}; the account is in {currency}",
        "fr": "écriture en {found}\u00a0; le compte est en {currency}",
    },
    "several_accounts": {
        "en": "the file mixes several accounts; import one account per file",
        "fr": "le fichier mêle plusieurs comptes\u00a0; importez un compte par fichier",
    },
    "foreign_currency": {
        "en": "statement {statement}: {what} is in {found}, the account in {account}",
        "fr": "relevé {statement}\u00a0: {what} est en {found}, le compte en {account}",
    },
    "reference_reused": {
        "en": "entry {ref} ({direction} of {amount}) has the reference of another entry "
        "({other_direction} of {other_amount}): a bank reference names one entry",
        "fr": "l'écriture {ref} ({direction} de {amount}) a la référence d'une autre écriture "
        "({other_direction} de {other_amount})\u00a0: une référence bancaire désigne une seule "
        "écriture",
    },
    # a run's checks (``run_checks``, ``service``)
    "report_other_period": {
        "en": "its lines run from {earliest} to {latest} and none of its payouts arrives from "
        "{first} to {last}: is it the report of another period?",
        "fr": "ses lignes vont du {earliest} au {latest} et aucun de ses virements n'arrive du "
        "{first} au {last}\u00a0: est-ce le rapport d'une autre période\u00a0?",
    },
    "statement_other_period": {
        "en": "its balances and entries are dated from {earliest} to {latest}, none from "
        "{first} to {last}: is it the statement of another period?",
        "fr": "ses soldes et écritures sont datés du {earliest} au {latest}, aucun du {first} "
        "au {last}\u00a0: est-ce le relevé d'une autre période\u00a0?",
    },
    "statement_other_period_empty": {
        "en": "it holds no balance and no entry, none from {first} to {last}: is it the "
        "statement of another period?",
        "fr": "il ne contient aucun solde ni aucune écriture, donc rien du {first} au "
        "{last}\u00a0: est-ce le relevé d'une autre période\u00a0?",
    },
    "period_out_of_range": {
        "en": "{param} {day} is out of range: regie reconciles days from {earliest} to {latest}.",
        "fr": "{param}, {day}, est hors limites\u00a0: regie rapproche les jours du {earliest} "
        "au {latest}.",
    },
    # the day a period's refusal names: its parameter in English (the API's and the
    # command line's words, its field's name), in words on a French page
    "what_period_from": {"en": "period_from", "fr": "Le début de la période"},
    "what_period_to": {"en": "period_to", "fr": "La fin de la période"},
    "what_as_of": {"en": "as_of", "fr": "La date d'arrêté"},
    "period_backwards": {
        "en": "The period ends before it starts.",
        "fr": "La période finit avant de commencer.",
    },
    "period_future": {
        "en": "The period is in the future: there is nothing to reconcile yet.",
        "fr": "La période est dans le futur\u00a0: il n'y a encore rien à rapprocher.",
    },
    "period_too_long": {
        "en": "A period is at most a year.",
        "fr": "Une période dure au plus un an.",
    },
    "as_of_before_period": {
        "en": "The day to judge as of is before the period starts: a run judges what is late "
        "as on that day, which must be within the period or after it.",
        "fr": "Le jour de référence est avant le début de la période\u00a0: un rapprochement "
        "juge ce qui est en retard à ce jour-là, qui doit être dans la période ou après.",
    },
    "nothing_to_reconcile": {
        "en": "Nothing to reconcile from {first} to {last}: no PSP line, no ledger entry and "
        "no bank entry in that period.",
        "fr": "Rien à rapprocher du {first} au {last}\u00a0: aucune ligne du prestataire, "
        "aucune écriture du grand livre et aucune écriture bancaire sur cette période.",
    },
}


__all__ = ["LANGS", "MESSAGES", "Message", "msg"]
