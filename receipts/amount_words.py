"""An amount in words, in French or English, as a receipt prints it under the total (pure).

``num2words`` spells the number and, for the currencies it knows (EUR, USD, GBP…), names
the units: ``vingt-cinq euros et cinquante centimes``, ``eight euros and fifty cents``
(num2words' English keeps "euro" invariable, the EU's official style; a receipt reads as
people say it, so the plural is "euros" here). A whole amount says nothing of its
cents (``vingt-cinq euros``, not ``… et zéro centimes``). Other currencies read as the
number in words followed by their ISO code (``mille deux cents XPF``). num2words counts in
the masculine; before a feminine unit French says ``une livre``, ``vingt et une livres``.
"""

from __future__ import annotations

from decimal import Decimal

from num2words import CONVERTER_CLASSES, num2words

from regie.kit.money import exponent

# where num2words' own unit names do not read as people say them
UNIT_FORMS: dict[tuple[str, str], tuple[tuple[str, str], tuple[str, str]]] = {
    ("en", "EUR"): (("euro", "euros"), ("cent", "cents")),
}
# French units that are feminine, of the currencies num2words names: "une livre", "vingt et
# une livres" (num2words counts in the masculine: "un livre")
FEMININE_UNITS = {("fr", "GBP")}


def amount_in_words(amount: int, currency: str, lang: str) -> str:
    """``amount`` (minor units of ``currency``) in words, in ``lang`` (``fr`` or ``en``)."""
    exp = exponent(currency)
    major, minor = divmod(amount, 10**exp)
    converter = CONVERTER_CLASSES[lang]
    forms = UNIT_FORMS.get((lang, currency)) or getattr(converter, "CURRENCY_FORMS", {}).get(
        currency
    )
    if forms is None:
        words = num2words(Decimal(amount).scaleb(-exp) if minor else major, lang=lang)
        return f"{words} {currency}"
    # French says "zéro euro" (singular below two), English "zero euros"
    major_words = num2words(major, lang=lang)
    if (lang, currency) in FEMININE_UNITS:
        major_words = _feminine(major_words)
    text = _units(
        lang,
        major,
        major_words,
        converter.pluralize(major or (1 if lang == "fr" else 0), forms[0]),
    )
    if not minor:
        return text
    cents = f"{num2words(minor, lang=lang)} {converter.pluralize(minor, forms[1])}"
    return f"{text} {'et' if lang == 'fr' else 'and'} {cents}"


def _feminine(words: str) -> str:
    """French words of a number before a feminine noun: a last "un" (``un``, ``vingt et
    un``, ``quatre-vingt-un``, ``mille un``) becomes "une"; ``un million`` stays (its noun
    is "million")."""
    return f"{words}e" if words == "un" or words.endswith((" un", "-un")) else words


def _units(lang: str, n: int, words: str, unit: str) -> str:
    """French says ``un million d'euros``, ``deux milliards de dollars``."""
    if lang == "fr" and n and words.split()[-1] in ("million", "millions", "milliard", "milliards"):
        return f"{words} d'{unit}" if unit[:1] in "aeiouyéèh" else f"{words} de {unit}"
    return f"{words} {unit}"
