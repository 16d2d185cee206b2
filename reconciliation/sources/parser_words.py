"""The parsers' own words, said in French too. Pure.

A file refused by libxml2 (a camt.053 that is not XML) or by Python's csv module (a report
that is not CSV) is described by the parser, in English. The API and the command line say
those words as they are; the finance workspace in French said them in English too ("ce
n'est pas du XML : Opening and ending tag mismatch…"). ``detail`` reads the usual ones into
a message of the catalogue (``messages``: ``parser_*``) whose English is the parser's text
again, word for word, and whose French says the same; other words are kept as the parser
wrote them, said to be its words.
"""

from __future__ import annotations

import re

from .messages import Message, msg


def _full(pattern: str) -> re.Pattern[str]:
    return re.compile(f"^{pattern}$")


_MISMATCH = _full(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)")
_CUT = _full(r"Premature end of data in tag (\S+) line (\d+)")
_EXPECTED = _full(r"expected '(.)'")
_CHAR_VALUE = _full(r"(\w+) invalid Char value (\d+)")
_CHAR = _full(r"Invalid character: Char 0x([0-9A-Fa-f]+) out of allowed range")
_DEPTH = _full(r"Excessive depth in document: (\d+)")
_FIELD = _full(r"field larger than field limit \((\d+)\)")
_AFTER_QUOTE = _full(r"'(.)' expected after '\"'")


def detail(text: str) -> Message:
    """A parser's words (one plain line) as a message: in English the very text."""
    fixed = {
        "Document is empty": msg("parser_empty"),
        "Start tag expected, '<' not found": msg("parser_no_tag"),
        "Extra content at the end of the document": msg("parser_extra"),
        "Invalid bytes in character encoding": msg("parser_bad_bytes"),
        "unexpected end of data": msg("parser_cut_csv"),
    }
    if text in fixed:
        return fixed[text]
    if m := _MISMATCH.match(text):
        return msg("parser_mismatch", opened=m[1], line=m[2], closed=m[3])
    if m := _CUT.match(text):
        return msg("parser_cut", tag=m[1], line=m[2])
    if m := _EXPECTED.match(text):
        return msg("parser_expected", char=m[1])
    if m := _CHAR_VALUE.match(text):
        return msg("parser_char_value", part=m[1], value=m[2])
    if m := _CHAR.match(text):
        return msg("parser_char", code=m[1])
    if m := _DEPTH.match(text):
        return msg("parser_depth", depth=m[1])
    if m := _FIELD.match(text):
        return msg("parser_field", limit=m[1])
    if m := _AFTER_QUOTE.match(text):
        return msg("parser_after_quote", sep=m[1])
    return msg("parser_other", text=text)
