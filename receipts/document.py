"""``ReceiptDocument``: everything a receipt or a credit note shows, and nothing else.

A frozen view model built from the invoice and its payment (or refund) by the code that
issues the receipt; ``receipts.render`` turns it into PDF bytes without any other input.
Amounts are integers in the currency's minor units (no floats anywhere); ``paid_at`` is an
aware datetime (stored in UTC) that the receipt shows in the issuer's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from regie.kit.money import validate_currency

Kind = Literal["receipt", "credit_note"]
Language = Literal["fr", "en"]

KINDS: tuple[str, ...] = get_args(Kind)
LANGUAGES: tuple[str, ...] = get_args(Language)


class ReceiptError(ValueError):
    """A receipt document that cannot be shown as it stands."""


def verify_url(base_url: str, issuer: str, number: str, code: str) -> str:
    """The QR code's content: ``{base_url}/receipts/verify/{issuer}/{number}?c={code}``,
    the issuer being its SIREN (or the service's slug, see ``receipts.issuers``)."""
    path = f"{quote(issuer, safe='')}/{quote(number, safe='')}"
    return f"{base_url.rstrip('/')}/receipts/verify/{path}?c={quote(code, safe='')}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    description: str
    quantity: int
    unit_amount: int
    amount: int

    def __post_init__(self) -> None:
        if not self.description.strip():
            raise ReceiptError("a receipt line needs a description")
        for name in ("quantity", "unit_amount", "amount"):
            if not _is_int(getattr(self, name)):
                raise ReceiptError(f"ReceiptLine.{name} must be an int (minor units, no floats)")
        if self.quantity < 1:
            raise ReceiptError("ReceiptLine.quantity must be at least 1")
        if self.unit_amount < 0 or self.amount < 0:
            raise ReceiptError("receipt amounts are positive; a credit note says it refunds")
        if self.amount != self.quantity * self.unit_amount:
            raise ReceiptError("ReceiptLine.amount must equal quantity x unit_amount")


@dataclass(frozen=True, slots=True)
class ReceiptDocument:
    """One receipt (``kind="receipt"``) or credit note (``kind="credit_note"``).

    ``issuer_address`` holds the address lines in order. ``card_brand`` is the PSP's brand
    code (``visa``, ``mastercard``, ``cb``…) and ``card_last4`` the last four digits, never
    more; both are ``None`` when the PSP did not say. ``verify_url`` is the QR code's
    content, ``{base_url}/receipts/verify/{issuer}/{number}?c={code}``, also printed
    under it.
    """

    kind: Kind
    number: str
    language: Language
    issuer_name: str
    issuer_address: tuple[str, ...]
    issuer_identifier: str
    issuer_timezone: str
    paid_at: dt.datetime
    payer_name: str
    lines: tuple[ReceiptLine, ...]
    total: int
    currency: str
    card_brand: str | None
    card_last4: str | None
    psp_reference: str
    invoice_number: str
    invoice_reference: str
    verify_url: str
    credit_note_for: str | None = None
    # What makes it a document a public body signs (None or empty: not printed, as on the
    # receipts issued before these were added, whose snapshots still render the same):
    issued_at: dt.datetime | None = None  # the PDF's creation date (else paid_at)
    amount_in_words: str | None = None  # the total in words, in the document's language
    vat_article: str | None = None  # "TVA non applicable, art. {vat_article} du CGI"
    regie_name: str | None = None  # the régie that collected the money
    issuer_email: str | None = None
    issuer_phone: str | None = None
    issuer_hours: str | None = None  # opening hours, as the service words them
    payer_address: tuple[str, ...] = ()
    # a credit note: why the money was given back, and what remains paid after it
    refund_reason: str | None = None
    remaining_amount: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ReceiptError(f"kind must be one of {KINDS}, not {self.kind!r}")
        if self.language not in LANGUAGES:
            raise ReceiptError(f"language must be one of {LANGUAGES}, not {self.language!r}")
        if (self.kind == "credit_note") != (self.credit_note_for is not None):
            raise ReceiptError("a credit note, and only a credit note, names its receipt")
        if not self.number.strip():
            raise ReceiptError("a receipt needs its number")
        if not self.verify_url.startswith(("https://", "http://")):
            raise ReceiptError("verify_url is the absolute URL that the QR code encodes")
        if not isinstance(self.issuer_address, tuple) or not isinstance(self.payer_address, tuple):
            raise ReceiptError("issuer_address and payer_address are tuples of address lines")
        if self.issued_at is not None and self.issued_at.utcoffset() is None:
            raise ReceiptError("issued_at must be an aware datetime (UTC)")
        if self.remaining_amount is not None and (
            not _is_int(self.remaining_amount) or self.remaining_amount < 0
        ):
            raise ReceiptError("remaining_amount is a non-negative int of minor units")
        if self.paid_at.tzinfo is None or self.paid_at.utcoffset() is None:
            raise ReceiptError("paid_at must be an aware datetime (UTC)")
        try:
            ZoneInfo(self.issuer_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ReceiptError(f"unknown time zone {self.issuer_timezone!r}") from exc
        try:
            validate_currency(self.currency)
        except ValueError as exc:
            raise ReceiptError(str(exc)) from exc
        if not isinstance(self.lines, tuple) or not self.lines:
            raise ReceiptError("a receipt has at least one line (a tuple of ReceiptLine)")
        if not _is_int(self.total) or self.total < 0:
            raise ReceiptError("total must be a non-negative int of minor units")
        if self.total != sum(line.amount for line in self.lines):
            raise ReceiptError("total must equal the sum of the lines")
        if self.card_last4 is not None and not (
            len(self.card_last4) == 4 and self.card_last4.isascii() and self.card_last4.isdigit()
        ):
            raise ReceiptError("card_last4 is exactly the last four digits of the card")

    @property
    def local_paid_at(self) -> dt.datetime:
        """The payment time on the issuer's wall clock."""
        return self.paid_at.astimezone(ZoneInfo(self.issuer_timezone))
