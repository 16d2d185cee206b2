"""The parsers' own words, said in French too. Pure.

A file refused by libxml2 (a camt.053 that is not XML) or by Python's csv module (a report
that is not CSV) is described by the parser, in English. The API and the command line say
those words as they are; the finance workspace in French said them in English too ("ce
n'est pas du XML : Document is empty"). ``detail`` gives the message key and values of the
parser's words: the usual ones are said in French, the others kept as the parser wrote
them, said to be its words. English is always the parser's text, unchanged.
"""

from __future__ import annotations

import re

# (pattern of the parser's words, message key); a pattern's groups are the message's values
_KNOWN: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), key)
    for pattern, key in (
        (r"^Document is empty$", "parser_empty"),
        (r"^Start tag expected, '<' not found$", "parser_no_tag"),
        (r"^Premature end of data in tag (?P<tag>\S+)", "parser_cut"),
        (
            r"^Opening and ending tag mismatch: (?P<opened>\S+) line \d+ and (?P<closed>\S+)$",
            "parser_mismatch",
        ),
        (r"^Extra content at the end of the document$", "parser_extra"),
        (r"^expected '(?P<char>.)'$", "parser_expected"),
        (r"^Invalid bytes in character encoding$", "parser_bad_bytes"),
        (r"invalid Char value (?P<value>\d+)$", "parser_char_value"),
        (r"Char 0x(?P<code>[0-9A-Fa-f]+) out of allowed range$", "parser_char"),
        (r"^Excessive depth in document: (?P<depth>\d+)$", "parser_depth"),
        (r"^field larger than field limit \((?P<limit>\d+)\)$", "parser_field"),
        (r"^unexpected end of data$", "parser_cut_csv"),
        (r"^'(?P<sep>.)' expected after '\"'$", "parser_after_quote"),
    )
)

MESSAGES: dict[str, dict[str, str]] = {
    "parser_other": {"en": "{text}", "fr": "{text} (les mots de l'analyseur, en anglais)"},
    "parser_empty": {"en": "{text}", "fr": "le document est vide"},
    "parser_no_tag": {"en": "{text}", "fr": "il ne commence pas par une balise («\u00a0<\u00a0»)"},
    "parser_cut": {"en": "{text}", "fr": "il s'arrête au milieu de la balise {tag}"},
    "parser_mismatch": {
        "en": "{text}",
        "fr": "la balise {opened} est fermée par la balise {closed}",
    },
    "parser_expected": {"en": "{text}", "fr": "«\u00a0{char}\u00a0» attendu"},
    "parser_extra": {"en": "{text}", "fr": "du contenu suit la fin du document"},
    "parser_bad_bytes": {
        "en": "{text}",
        "fr": "des octets ne sont pas valides dans l'encodage du fichier",
    },
    "parser_char_value": {"en": "{text}", "fr": "un caractère que XML n'admet pas (code {value})"},
    "parser_char": {"en": "{text}", "fr": "un caractère que XML n'admet pas (U+{code:0>4})"},
    "parser_depth": {
        "en": "{text}",
        "fr": "des balises imbriquées sur plus de {depth} niveaux",
    },
    "parser_field": {"en": "{text}", "fr": "un champ dépasse {limit} caractères"},
    "parser_cut_csv": {"en": "{text}", "fr": "il s'arrête au milieu d'un champ entre guillemets"},
    "parser_after_quote": {
        "en": "{text}",
        "fr": "«\u00a0{sep}\u00a0» attendu après le guillemet qui ferme un champ",
    },
}


def detail(text: str) -> tuple[str, dict[str, str]]:
    """The message key and values of a parser's words (``text``: one plain line)."""
    for pattern, key in _KNOWN:
        found = pattern.search(text)
        if found:
            return key, {"text": text, **found.groupdict()}
    return "parser_other", {"text": text}
