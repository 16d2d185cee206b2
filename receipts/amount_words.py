"""An amount in words, in French or English, as a receipt prints it under the total (pure).

``num2words`` spells the number and, for the currencies it knows (EUR, USD, GBP…), names
the units: ``vingt-cinq euros et cinquante centimes``, ``eight euros and fifty cents``
(num2words' English keeps "euro" invariable, the EU's official style; a receipt reads as
people say it, so the plural is "euros" here). A whole amount says nothing of its
cents (``vingt-cinq euros``, not ``… et zéro centimes``). The currencies without two
decimals that num2words does not name are named here: ``mille cinq cents yens``,
``mille deux cents francs CFP``, ``dix-huit dinars et cent cinquante millimes`` (a
three-decimal amount's thousandths are a whole number of its minor unit, never read digit
by digit as a decimal: 18.150 TND is not "dix-huit virgule un cinq"). Other currencies
read as the number in words followed by their ISO code (``deux virgule zéro cinq MAD``);
Swiss francs are named here too (``deux francs suisses et cinq centimes``).
num2words counts in the masculine; before a feminine unit French says ``une livre``,
``vingt et une livres``.
"""

from __future__ import annotations

from decimal import Decimal

from num2words import CONVERTER_CLASSES, num2words

from regie.kit.money import exponent

Forms = tuple[tuple[str, str], tuple[str, str]]  # (major unit, minor unit), (one, many) each
_DINAR_FILS = {"fr": (("dinar", "dinars"), ("fils", "fils")),
               "en": (("dinar", "dinars"), ("fils", "fils"))}  # fmt: skip
_NAMED: dict[str, dict[str, Forms]] = {
    # zero decimals (their minor forms are never read)
    "JPY": {"fr": (("yen", "yens"), ("sen", "sens")), "en": (("yen", "yen"), ("sen", "sen"))},
    "XPF": {"fr": (("franc CFP", "francs CFP"), ("centime", "centimes")),
            "en": (("CFP franc", "CFP francs"), ("centime", "centimes"))},
    "XOF": {"fr": (("franc CFA", "francs CFA"), ("centime", "centimes")),
            "en": (("CFA franc", "CFA francs"), ("centime", "centimes"))},
    "XAF": {"fr": (("franc CFA", "francs CFA"), ("centime", "centimes")),
            "en": (("CFA franc", "CFA francs"), ("centime", "centimes"))},
    # two decimals, which num2words does not name
    "CHF": {"fr": (("franc suisse", "francs suisses"), ("centime", "centimes")),
            "en": (("Swiss franc", "Swiss francs"), ("centime", "centimes"))},
    # three decimals: a thousandth of the unit
    "TND": {"fr": (("dinar", "dinars"), ("millime", "millimes")),
            "en": (("dinar", "dinars"), ("millime", "millimes"))},
    "BHD": _DINAR_FILS, "IQD": _DINAR_FILS, "JOD": _DINAR_FILS, "KWD": _DINAR_FILS,
    "LYD": {"fr": (("dinar", "dinars"), ("dirham", "dirhams")),
            "en": (("dinar", "dinars"), ("dirham", "dirhams"))},
    "OMR": {"fr": (("rial", "rials"), ("baïsa", "baïsas")),
            "en": (("rial", "rials"), ("baisa", "baisa"))},
}  # fmt: skip
# where num2words' own unit names do not read as people say them, or it has none
UNIT_FORMS: dict[tuple[str, str], Forms] = {
    ("en", "EUR"): (("euro", "euros"), ("cent", "cents")),
    # num2words reads 0.50 CNY "cinquante jiaos": it is fifty fen (five jiao)
    ("fr", "CNY"): (("yuan", "yuans"), ("fen", "fens")),
    **{(lang, code): forms for code, by_lang in _NAMED.items() for lang, forms in by_lang.items()},
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
    """French says ``un million d'euros``, ``deux milliards de dollars``, ``un million de
    yens`` (no elision before a y: ``de yuans``)."""
    if lang == "fr" and n and words.split()[-1] in ("million", "millions", "milliard", "milliards"):
        return f"{words} d'{unit}" if unit[:1] in "aeiouéèh" else f"{words} de {unit}"
    return f"{words} {unit}"
