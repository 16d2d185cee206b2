"""The parsers' own words (libxml2's, the csv module's) said in French, from what the
parsers really write (``sources.parser_words``); English keeps them as written."""

from __future__ import annotations

import csv
import io

import pytest
from lxml import etree

from reconciliation.sources.camt053 import _plain_message
from reconciliation.sources.messages import msg
from reconciliation.sources.parser_words import detail


def _xml_error(data: bytes) -> str:
    with pytest.raises(etree.XMLSyntaxError) as err:
        etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    return _plain_message(str(err.value.msg))


def _csv_error(text: str, **options: object) -> str:
    with pytest.raises(csv.Error) as err:
        list(csv.reader(io.StringIO(text, newline=""), strict=True, **options))  # type: ignore[call-overload]
    return str(err.value)


@pytest.mark.parametrize(
    ("said", "key", "french"),
    [
        (lambda: _xml_error(b"<a><b></a>"), "parser_mismatch", "la balise b (ouverte ligne 1) est fermée par la balise a"),
        (lambda: _xml_error(b"<a><b>"), "parser_cut", "il s'arrête au milieu de la balise b (ouverte ligne 1)"),
        (lambda: _xml_error(b"<a/><b/>"), "parser_extra", "du contenu suit la fin du document"),
        (lambda: _xml_error(b"hello"), "parser_no_tag", "il ne commence pas par une balise"),
        (lambda: _xml_error(b"<a>\xff</a>"), "parser_bad_bytes", "ne sont pas valides"),
        (lambda: _xml_error(b"<a>\x01</a>"), "parser_char_value", "(code 1, dans PCDATA)"),
        (lambda: _csv_error('a,"b"c\n'), "parser_after_quote", "«\u00a0,\u00a0» attendu"),
        (lambda: _csv_error('a,"b\n'), "parser_cut_csv", "entre guillemets"),
        (lambda: _xml_error(b"\x00\x00"), "parser_empty", "le document est vide"),
        (lambda: _xml_error(b"<a></"), "parser_expected", "«\u00a0>\u00a0» attendu"),
        (lambda: _xml_error(b"<a>\x00</a>"), "parser_char", "(0x0)"),
        (lambda: _xml_error(b"<a>" + b"<x>" * 300 + b"</x>" * 300 + b"</a>"), "parser_depth", "256 niveaux"),
        (lambda: _csv_error("a" * 131073 + "\n"), "parser_field", "131072 caractères"),
    ],
)  # fmt: skip
def test_what_the_parsers_say_is_said_in_french(said: object, key: str, french: str) -> None:
    text = said()  # type: ignore[operator]
    got = detail(text)
    assert got.key == key, text
    assert got.text("en") == text  # English: the parser's own words, rebuilt word for word
    words = msg("not_xml", detail=got)
    assert french in words.text("fr") and text not in words.text("fr")
    assert words.text("en") == f"not XML: {text}"


def test_words_no_pattern_knows_are_kept_and_said_to_be_the_parsers() -> None:
    got = detail("Something libxml2 never said before")
    assert got.key == "parser_other"
    fr = got.text("fr")
    assert fr.startswith("Something libxml2 never said before (") and "anglais" in fr
