"""Ledger exports (pure): CSV and the French FEC layout (Fichier des Écritures Comptables).

FEC: the 18 columns of article A47 A-1 of the Livre des procédures fiscales, separated by
``|``, dates as ``YYYYMMDD``, amounts with a comma as decimal separator, entries numbered
continuously per journal, written in ISO 8859-15 (``FEC_ENCODING``). regie's account paths map to the plan comptable général; the
service (tenant) goes in the auxiliary account.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import TextIO
from zoneinfo import ZoneInfo

from ledger.fec_labels import NO_PIECES, Pieces, piece_and_label
from ledger.snapshot import Balance, ExportLine
from regie.kit.money import to_decimal
from regie.kit.spreadsheet import BOM, safe_cell

# article A47 A-1 of the LPF, III 1°: "les caractères utilisés appartiennent à l'un des jeux de
# caractères ASCII, norme ISO 8859-15 ou EBCDIC" (UTF-8 is not one of them); Latin-9 keeps
# French accents, and the euro sign
FEC_ENCODING = "iso8859_15"
FEC_CONTENT_TYPE = "text/plain; charset=iso-8859-15"
FEC_COLUMNS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)  # fmt: skip

# account path prefix -> (PCG account number, label)
PCG = (
    ("receivable:", "411000", "Usagers - créances"),
    ("income:", "706000", "Prestations de services"),
    ("assets:psp:", "467100", "Prestataire de paiement - compte d'attente"),
    ("assets:bank:", "512000", "Banque"),
    ("expenses:psp_fees", "627000", "Services bancaires et assimilés"),
    # the PSP's dispute fee is a charge of its service, like its fee on a payment
    ("expenses:dispute_fees", "627000", "Services bancaires et assimilés"),
    ("expenses:disputes", "658000", "Charges diverses de gestion courante - litiges"),
    ("liabilities:overpayments", "419000", "Usagers - trop-perçus"),
)
JOURNALS = {
    "invoice_issued": ("VE", "Ventes"),
    "invoice_canceled": ("VE", "Ventes"),
    "invoice_expired": ("VE", "Ventes"),
    "invoice_paid_after_expiry": ("VE", "Ventes"),  # the expiry reversed: the sale stands
    "payout_paid": ("BQ", "Banque"),
    "payout_failed": ("BQ", "Banque"),
    "payout_reconciled": ("BQ", "Banque"),
}
DEFAULT_JOURNAL = ("PSP", "Encaissements carte")
# the entry carrying the balances of before the file's first day (the "à-nouveaux": the FEC
# of an exercise holds them, BOI-CF-IOR-60-40-20 and article A47 A-1 of the LPF); regie's
# ledger closes no year, so the income and expenses before that day are carried as one
# result, an excess (120) or a deficit (129), for the accountant to allocate
OPENING_JOURNAL = ("AN", "A-nouveaux")
RESULT_EXCESS = ("120000", "Résultat de l'exercice (excédent)")
RESULT_DEFICIT = ("129000", "Résultat de l'exercice (déficit)")
CSV_COLUMNS = (
    "entry_seq",
    "entry_id",
    "kind",
    "effective_at",
    "account",
    "currency",
    "debit",
    "credit",
    "invoice",
    "description",
)


def pcg_account(account: str) -> tuple[str, str, str]:
    """(CompteNum, CompteLib, CompAuxNum) of a regie account path."""
    for prefix, number, label in PCG:
        if account.startswith(prefix):
            # only third-party accounts (411 Usagers) have auxiliary accounts in a FEC
            aux = account[len(prefix) :] if prefix == "receivable:" else ""
            return number, label, aux
    return "471000", "Compte d'attente", account


def _fec_amount(amount: int, currency: str) -> str:
    return f"{to_decimal(amount, currency):f}".replace(".", ",")


def fec_rows(
    lines: Iterable[ExportLine],
    currency: str = "EUR",
    tz: str = "Europe/Paris",
    pieces: Mapping[str, Pieces] | None = None,
    opening: Iterable[Balance] | None = None,
    opening_day: dt.date | None = None,
) -> Iterator[list[str]]:
    """FEC rows in the body's accounting currency (EUR, or XPF in the Pacific territories);
    lines in other currencies are left out (the ledger is per currency). ``pieces`` (by
    invoice id) give PieceRef and EcritureLib their invoice, receipt and credit-note
    numbers (``ledger.fec_labels``). With ``opening_day`` (the file's first day), the
    balances of the entries effective before it (``opening``) come first, as one entry.
    Entries are numbered in the order of their days (Paris time), each day's in the
    ledger's order: an entry booked after midnight for a payment made before it follows
    the next day's first entries in the ledger, and its number must not (the entries of a
    FEC are in the chronological order of their validation, article A47 A-1)."""
    zone = ZoneInfo(tz)
    numbers: dict[str, int] = {}
    current: dict[str, tuple[str, int]] = {}  # journal -> (entry id, its number)
    yield list(FEC_COLUMNS)
    if opening_day is not None:
        yield from _opening_rows(opening or (), currency, opening_day)
    mine = [x for x in lines if x.currency == currency]
    # (a stable sort: an entry's lines share their day and number, and keep their order)
    mine.sort(key=lambda x: (x.effective_at.astimezone(zone).date(), x.entry_seq))
    for x in mine:
        code, label = JOURNALS.get(x.kind, DEFAULT_JOURNAL)
        last = current.get(code)
        if last is None or last[0] != x.entry_id:
            numbers[code] = numbers.get(code, 0) + 1
            current[code] = (x.entry_id, numbers[code])
        date = x.effective_at.astimezone(zone).strftime("%Y%m%d")
        number, account_label, aux = pcg_account(x.account)
        found = (pieces or {}).get(x.invoice_id or "", NO_PIECES)
        piece, wording = piece_and_label(x, found)
        yield [
            code, label, f"{code}{current[code][1]:06d}", date, number, account_label,
            aux, aux, piece, date, wording[:200],
            _fec_amount(x.debit, x.currency), _fec_amount(x.credit, x.currency),
            "", "", date, "", "",
        ]  # fmt: skip


def left_out(lines: Iterable[ExportLine], currency: str) -> dict[str, int]:
    """The lines a FEC in ``currency`` leaves out, counted by their currency (the ledger
    keeps each currency apart, and regie books no exchange rate: ``fec_rows``)."""
    counts: dict[str, int] = {}
    for x in lines:
        if x.currency != currency:
            counts[x.currency] = counts.get(x.currency, 0) + 1
    return dict(sorted(counts.items()))


def left_out_text(counts: Mapping[str, int]) -> str:
    """``left_out``'s counts as a header value and in words: ``USD=2, XPF=1``."""
    return ", ".join(f"{cur}={n}" for cur, n in counts.items())


def _opening_rows(balances: Iterable[Balance], currency: str, day: dt.date) -> Iterator[list[str]]:
    carried: list[tuple[str, str, str, int]] = []  # (CompteNum, CompteLib, aux, debit - credit)
    result = 0
    for b in sorted(balances, key=lambda b: b.account):
        if b.currency != currency or b.balance == 0:
            continue
        number, label, aux = pcg_account(b.account)
        if number[0] in "67":  # income and expenses (PCG classes 6 and 7)
            result += b.balance
        else:
            carried.append((number, label, aux, b.balance))
    if result:
        carried.append((*(RESULT_DEFICIT if result > 0 else RESULT_EXCESS), "", result))
    code, journal = OPENING_JOURNAL
    date = f"{day:%Y%m%d}"
    wording = f"Reprise des soldes au {day:%d/%m/%Y}"
    for number, label, aux, amount in carried:
        yield [
            code, journal, f"{code}000001", date, number, label, aux, aux, f"AN-{day:%Y%m%d}",
            date, wording, _fec_amount(max(amount, 0), currency),
            _fec_amount(max(-amount, 0), currency), "", "", date, "", "",
        ]  # fmt: skip


# the punctuation a word processor types that ISO 8859-15 lacks, as plain text writes it
_PLAIN = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
}


def _latin9(cell: str) -> str:
    """``cell`` in characters ISO 8859-15 can write: typographic quotes and dashes in
    their plain form (l’école: l'école), a letter it lacks loses its accent (ą: a), anything
    else is ``?`` (an invoice reference takes any script's letters)."""
    if cell.isascii():
        return cell
    out = []
    for ch in cell:
        try:
            ch.encode(FEC_ENCODING)
            out.append(ch)
        except UnicodeEncodeError:
            if ch in _PLAIN:
                out.append(_PLAIN[ch])
                continue
            base = "".join(
                c
                for c in unicodedata.normalize("NFKD", ch)
                if not unicodedata.combining(c) and c.isascii()
            )
            out.append(base or "?")
    return "".join(out)


# a control character (C0, DEL, C1) in a cell: a CR or a NEL ends a record for some readers
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _fec_cell(cell: str) -> str:
    """A cell as the file holds it: in Latin-9 first (``_latin9``: a fullwidth bar, which
    it lacks, reads ``|``), then with no separator (``|`` reads ``/``) and no control
    character (a space), so that no cell adds a column or a record."""
    return _CONTROLS.sub(" ", _latin9(cell).replace("|", "/"))


def write_fec(
    lines: Iterable[ExportLine],
    out: TextIO,
    currency: str = "EUR",
    pieces: Mapping[str, Pieces] | None = None,
    opening: Iterable[Balance] | None = None,
    opening_day: dt.date | None = None,
) -> int:
    count = 0
    for row in fec_rows(lines, currency, pieces=pieces, opening=opening, opening_day=opening_day):
        out.write("|".join(_fec_cell(cell) for cell in row) + "\r\n")
        count += 1
    return count - 1


def write_csv(lines: Iterable[ExportLine], out: TextIO) -> int:
    """The lines, a row each, after the UTF-8 byte order mark Excel needs to read the file
    as UTF-8 (without it, a description's accents show in cp1252), as the other CSVs
    regie writes. The description is the one cell of text regie did not choose all of (an
    invoice's reference, a PSP's ids): written as a spreadsheet shows it, never runs it
    (``safe_cell``); the other cells are ids, names and integers regie makes."""
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for x in lines:
        writer.writerow(
            [x.entry_seq, x.entry_id, x.kind, x.effective_at.isoformat(), x.account, x.currency,
             x.debit, x.credit, x.invoice_id or "", safe_cell(x.description)]
        )  # fmt: skip
        count += 1
    return count


def day_start(day: dt.date, tz: str = "Europe/Paris") -> dt.datetime:
    """The instant ``day`` begins in the body's zone, in UTC (``OverflowError`` for a day
    whose start is not an instant of the years 1 to 9999: 1 January of the year 1)."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(tz)).astimezone(dt.UTC)


def day_end(day: dt.date, tz: str = "Europe/Paris") -> dt.datetime:
    """The instant the day after ``day`` begins in the body's zone (``day``'s end,
    excluded), in UTC (``OverflowError`` for 31 December 9999)."""
    return day_start(day + dt.timedelta(days=1), tz)


def day_bounds(
    start: dt.date, end: dt.date, tz: str = "Europe/Paris"
) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in the body's zone, as UTC instants."""
    return day_start(start, tz), day_end(end, tz)
