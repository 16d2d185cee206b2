"""API shapes of ``payments`` (request validation and responses)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from regie.kit.money import CURRENCIES

MAX_LINES = 100
MAX_METADATA_KEYS = 20
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
# a plain character set keeps keys safe in JSON paths on every backend
METADATA_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,40}")
# an invoice's id; a list's cursor (``starting_after``) is one too: the lists page by keyset
# on ids, so any other text would be read as a place in the list (a truncated one sorts
# after every id: the first page again, for ever; an empty one before all: an empty page)
INVOICE_ID = r"^inv_[0-9A-Z]{26}$"

# Bidirectional embeddings, overrides and isolates: invisible, they turn the text after them
# round on a receipt, a page or a terminal ("\u202egnp.exe" reads "exe.png")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t")


def _visible(c: str) -> bool:
    """A letter, a digit, a punctuation mark or a symbol: not a space, a control or format
    character (a zero-width space), a combining mark alone."""
    return unicodedata.category(c)[0] in "LNPS"


def _readable(max_length: int, *, lines: bool, empty: bool = False) -> AfterValidator:
    """Text that looks the same is stored the same: "é" as one code point (NFC) whether it
    was sent as one or as "e" and a combining accent (NFD, what macOS and some spreadsheets
    give). Refused: a control character (a bell, a terminal's escape sequence; new lines
    and tabs only where ``lines``), a line or paragraph separator, a bidirectional control,
    and text with nothing visible in it (a zero-width space alone; ``empty``: but for the
    empty text)."""

    def check(v: str) -> str:
        if empty and not v:
            return v
        v = unicodedata.normalize("NFC", v)
        if len(v) > max_length:  # (rare: a few characters decompose under NFC)
            raise ValueError(f"The text is longer than {max_length} characters.")
        for c in v:
            if c in _BIDI_CONTROLS:
                raise ValueError(
                    f"The text contains a bidirectional control character (U+{ord(c):04X}), "
                    "which turns the text after it round."
                )
            if unicodedata.category(c) in ("Cc", "Zl", "Zp") and not (lines and c in _LINE_BREAKS):
                what = "a new line" if c in _LINE_BREAKS else "a control character"
                raise ValueError(f"The text contains {what} (U+{ord(c):04X}).")
        if not any(_visible(c) for c in v):
            raise ValueError("The text has no visible character.")
        return v

    return AfterValidator(check)


Text200 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    _readable(200, lines=False),
]
Text500 = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
    _readable(500, lines=True),
]

_REFERENCE_SHAPE = StringConstraints(
    strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[\w./:#-]+$"
)
_REFERENCE = TypeAdapter(Annotated[str, _REFERENCE_SHAPE])


def reference_key(v: str) -> str:
    """A reference as it is stored and compared: in NFKC (a fullwidth "ＡＢＣ" is "ABC" and
    "é" is one code point however it was sent, as identifiers are compared, UAX #31),
    stripped."""
    return unicodedata.normalize("NFKC", v).strip()


def _reference(v: str) -> str:
    v = reference_key(v)
    try:  # what NFKC gives must still have the reference's shape
        _REFERENCE.validate_python(v)
    except ValidationError:
        raise ValueError(
            r"The reference is 1 to 100 letters, digits or _ . / : # - (in NFKC)."
        ) from None
    # the pattern's \w takes the zero-width joiner and non-joiner (Unicode counts them as
    # word characters): "AB\u200dC" would be a reference that looks like "ABC" but is not
    for c in v:
        if unicodedata.category(c) == "Cf":
            raise ValueError(f"The reference contains an invisible character (U+{ord(c):04X}).")
    return v


Reference = Annotated[str, _REFERENCE_SHAPE, AfterValidator(_reference)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
# StrictInt: a JSON float (25.0), a string ("25") or a boolean is refused, never coerced.
MinorUnits = Annotated[StrictInt, Field(ge=1, description="Amount in the currency's minor unit")]


def luhn_valid(digits: str, *, siret: bool = False) -> bool:
    """SIREN and SIRET carry a Luhn check digit (La Poste's SIRETs sum their digits to 5)."""
    if siret and digits.startswith("356000000"):
        return sum(int(c) for c in digits) % 5 == 0
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Payer(_Strict):
    name: Text200
    email: Email | None = None
    address: Text500 | None = Field(
        default=None,
        description="The payer's postal address, printed on the receipt (lines separated by new lines)",
    )
    company_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9 ]{9,17}$")] | None
    ) = Field(
        default=None,
        description="SIREN (9 digits) or SIRET (14 digits) when the payer is a business",
    )
    vat_number: (
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}[0-9A-Za-z]{2,13}$"
            ),
        ]
        | None
    ) = Field(default=None, description="Intra-EU VAT number, e.g. FR40303265045")

    @field_validator("company_id")
    @classmethod
    def _company_id(cls, v: str | None) -> str | None:
        if v is None:
            return v
        digits = v.replace(" ", "")
        if len(digits) not in (9, 14) or not luhn_valid(digits, siret=len(digits) == 14):
            raise ValueError(
                "company_id is a SIREN (9 digits) or a SIRET (14 digits) with a valid check digit"
            )
        return digits


class LineIn(_Strict):
    description: Text500
    quantity: Annotated[StrictInt, Field(ge=1, le=10_000)] = 1
    unit_amount: MinorUnits


class InvoiceCreate(_Strict):
    """Give either ``amount`` (one line) or ``lines``."""

    amount: MinorUnits | None = None
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)] | None = None
    currency: Annotated[str, Field(min_length=3, max_length=3, examples=["EUR"])]
    reference: Reference
    description: Text500
    payer: Payer
    metadata: dict[str, str] = Field(default_factory=dict)
    expires_at: AwareDatetime | None = None
    return_url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    locale: Literal["fr", "en"] = "fr"

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v not in CURRENCIES:
            raise ValueError(f"{v!r} is not an ISO 4217 currency code in upper case (e.g. EUR)")
        return v

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_METADATA_KEYS:
            raise ValueError(f"metadata has at most {MAX_METADATA_KEYS} keys")
        for key, value in v.items():
            if not METADATA_KEY.fullmatch(key):
                raise ValueError(
                    f"metadata keys are 1 to {MAX_METADATA_KEY} letters, digits or _ . : -"
                )
            if len(value) > MAX_METADATA_VALUE:
                raise ValueError(f"metadata values are at most {MAX_METADATA_VALUE} characters")
        return v

    @field_validator("return_url")
    @classmethod
    def _return_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from urllib.parse import urlsplit

        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("return_url must be an absolute http(s) URL")
        return v

    @model_validator(mode="after")
    def _amount_or_lines(self) -> InvoiceCreate:
        if (self.amount is None) == (self.lines is None):
            raise ValueError("give exactly one of amount or lines")
        return self


class Card(BaseModel):
    brand: str | None
    last4: str | None


class PaymentFailure(BaseModel):
    code: str | None
    message: str | None


class PaymentOut(BaseModel):
    id: str
    object: Literal["payment"] = "payment"
    invoice: str
    status: str
    provider: str
    amount: int
    currency: str
    fee: int | None
    fee_currency: str | None = Field(
        default=None,
        description="The fee's currency: the PSP's settlement currency, which may differ "
        "from the payment's",
    )
    card: Card | None
    failure: PaymentFailure | None
    provider_payment_id: str | None
    is_overpayment: bool
    processing_since: dt.datetime | None = Field(
        default=None,
        description="Pending, and the payer completed the checkout with a delayed method "
        "(a SEPA debit): the money is on its way. Such a payment does not expire with its "
        "invoice; if it succeeds after the invoice expired, it pays it.",
    )
    created_at: dt.datetime
    succeeded_at: dt.datetime | None


class LineOut(BaseModel):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class PayerOut(BaseModel):
    name: str
    email: str | None
    address: str | None = None
    company_id: str | None = None
    vat_number: str | None = None


class CreditNoteLink(BaseModel):
    number: str = Field(examples=["AV-2026-000001"])
    url: str = Field(description="Download it with your key (a PDF)")


class CreditNoteOut(BaseModel):
    object: Literal["credit_note"] = "credit_note"
    number: str = Field(examples=["AV-2026-000001"])
    refund: str = Field(description="The refund it is for (ref_…)")
    amount: int
    currency: str
    status: Literal["issued", "canceled"] = Field(
        description="canceled: its refund failed after it succeeded (the money was not given back)"
    )
    url: str = Field(description="Download it with your key (a PDF)")


class InvoiceOut(BaseModel):
    id: str
    object: Literal["invoice"] = "invoice"
    number: str
    service: str
    status: str
    currency: str
    amount_total: int
    amount_paid: int
    amount_refunded: int
    amount_due: int
    amount_refundable: int
    lines: list[LineOut]
    reference: str
    description: str
    payer: PayerOut
    metadata: dict[str, str]
    locale: str
    expires_at: dt.datetime
    return_url: str | None
    payment_url: str
    payments: list[PaymentOut]
    credit_notes: list[CreditNoteOut] = Field(
        default_factory=list, description="One per refund that succeeded, in number order"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    paid_at: dt.datetime | None
    canceled_at: dt.datetime | None
    expired_at: dt.datetime | None


class InvoiceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[InvoiceOut]
    has_more: bool
    next_starting_after: str | None


# why a service cancels or refunds: free text, possibly on lines, that may be left empty
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500),
    _readable(500, lines=True, empty=True),
]


class CancelRequest(_Strict):
    reason: Reason | None = Field(
        default=None, description="Kept with the cancellation in the invoice's history"
    )


class RefundCreate(_Strict):
    """Omit ``amount`` to refund everything still refundable."""

    amount: MinorUnits | None = None
    reason: Reason | None = Field(default=None, description="Printed on the credit note")
    expected_refundable_amount: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None,
        description="What you believe is still refundable; if regie disagrees the call is 409 and nothing is refunded.",
    )


class RefundOut(BaseModel):
    id: str
    object: Literal["refund"] = "refund"
    invoice: str
    payment: str
    amount: int
    currency: str
    status: str
    reason: str | None
    origin: str
    failure_reason: str | None
    provider_refund_id: str | None
    credit_note: CreditNoteLink | None = Field(
        default=None, description="The credit note issued when the refund succeeded"
    )
    created_at: dt.datetime
    succeeded_at: dt.datetime | None


class RefundList(BaseModel):
    object: Literal["list"] = "list"
    data: list[RefundOut]
    refundable_amount: int
