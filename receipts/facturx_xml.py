"""Factur-X (EN 16931) BASIC: the invoice XML for a receipt whose payer is a business.

``cii_xml`` turns a ``ReceiptDocument`` into the Cross Industry Invoice of the paid invoice
(or, for a credit note, of the credit note); ``receipts.facturx_pdf`` attaches it to the
receipt's PDF. Pure: no I/O. Its notes' words come from ``receipts.words``.

Choices worth knowing, each forced by the EN 16931 rules that the Factur-X schematron
enforces:

- A public body's fees are outside the scope of VAT (CGI art. 256 B): every line and the
  single VAT breakdown use category ``O`` with no rate, a tax amount of 0, the exemption
  reason code ``VATEX-EU-O`` and a reason text.
- With category ``O``, BR-O-02 forbids the buyer's VAT identifier (BT-48, ``schemeID="VA"``)
  and the seller's. The buyer's VAT number therefore travels as the buyer identifier
  (BT-46, ``ram:ID``) and its SIREN or SIRET as the legal registration identifier (BT-47,
  ``schemeID="0002"``). A buyer postal address with a country is mandatory (BR-10, BR-11):
  the country comes from the SIREN/SIRET (France) or the VAT number's prefix.
- It is the receipt of a paid invoice: the paid amount (BT-113) is the total and the amount
  due (BT-115) is zero; the payment means is a bank card (48), as on the printed receipt.
- The invoice's number (BT-1) is ``doc.invoice_number``. A credit note is another document
  with its own number: its BT-1 is the credit note's number and it refers to the invoice
  (BT-25); the receipt it corrects is named in a note.
- Amounts are written exactly from integer minor units, with the currency's ISO 4217
  decimals (``1234.50`` EUR, ``4500`` XPF). EN 16931 allows at most two decimals in an
  amount (BR-DEC-*, and its sums are checked rounded to two): in a currency with three
  (KWD, BHD…) an amount is written with two when that is exact (``2.50``), and one that
  is not (``0.345``) raises ``FacturXError`` rather than round the XML away from the
  receipt. Unit prices have no such limit and keep every decimal.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from lxml import etree

from receipts.document import ReceiptDocument, ReceiptError
from receipts.words import payment_method, word
from regie.kit.money import to_decimal

PROFILE_BASIC: Final = "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
SCHEME_SIRENE: Final = "0002"  # ISO/IEC 6523 ICD of the French SIRENE register (SIREN, SIRET)
PAYMENT_MEANS_CARD: Final = "48"  # UNTDID 4461: bank card
UNIT_ONE: Final = "C62"  # UN/ECE Recommendation 20: "one", a unit of count
VAT_CATEGORY_OUTSIDE: Final = "O"  # UNCL 5305: services outside scope of tax
VATEX_OUTSIDE: Final = "VATEX-EU-O"

NS: Final = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}


class FacturXError(ReceiptError):
    """A Factur-X invoice that cannot be made from what was given."""


# ---------------------------------------------------------------------------------------
# The buyer

_SPACES: Final = re.compile(r"[\s\u00a0\u202f.\-]+")
_VAT: Final = re.compile(r"[A-Z]{2}[0-9A-Z+*]{2,13}")
# VAT prefixes that are not the ISO 3166-1 code of their country.
_VAT_COUNTRY: Final = {"EL": "GR", "XI": "GB"}


def _siren_or_siret(value: str, what: str, *, quote: bool = False) -> str:
    """The digits of a SIREN or SIRET. The error quotes the value only when ``quote``: the
    issuer's own (public) identifier, never a payer's (a sole trader's is personal data,
    and the message is logged)."""
    digits = _SPACES.sub("", value)
    if not (digits.isascii() and digits.isdigit() and len(digits) in (9, 14)):
        given = f", not {value!r}" if quote else ""
        raise FacturXError(f"{what} is a SIREN (9 digits) or a SIRET (14 digits){given}")
    return digits


@dataclass(frozen=True, slots=True)
class BusinessParty:
    """A payer that is a business: its name and its SIREN/SIRET, its VAT number, or both.

    ``company_id`` is a French SIREN (9 digits) or SIRET (14 digits); ``vat_number`` an
    intra-community VAT number with its country prefix (``FR40303265045``). Spaces are
    dropped and letters put in upper case.
    """

    name: str
    company_id: str | None = None
    vat_number: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise FacturXError("a business payer needs a name")
        object.__setattr__(self, "name", self.name.strip())
        if self.company_id is not None:
            object.__setattr__(self, "company_id", _siren_or_siret(self.company_id, "company_id"))
        if self.vat_number is not None:
            vat = _SPACES.sub("", self.vat_number).upper()
            if not _VAT.fullmatch(vat):
                raise FacturXError("vat_number is a VAT number with its country prefix")
            object.__setattr__(self, "vat_number", vat)
        if self.company_id is None and self.vat_number is None:
            raise FacturXError("a business payer has a SIREN/SIRET or a VAT number")

    @property
    def country(self) -> str:
        """ISO 3166-1 alpha-2: France for a SIREN/SIRET, else the VAT number's prefix."""
        if self.company_id is not None:
            return "FR"
        assert self.vat_number is not None
        prefix = self.vat_number[:2]
        return _VAT_COUNTRY.get(prefix, prefix)


# ---------------------------------------------------------------------------------------
# The XML

# Characters that XML 1.0 cannot carry at all (lxml refuses them).
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_POSTCODE_CITY: Final = re.compile(r"(?:F-)?(\d{5})\s+(\S.*)")
_CENT: Final = Decimal("0.01")


def _amount(minor: int, currency: str, *, price: bool = False) -> str:
    """``123450, "EUR"`` -> ``1234.50``: exact, with the currency's decimals, at most two
    of them for an amount (BR-DEC); ``price=True`` for a unit price, which keeps them all."""
    value = to_decimal(minor, currency)
    if not price and value != value.quantize(_CENT):
        raise FacturXError(
            f"{value} {currency} has more than the two decimals that EN 16931 allows in an "
            "amount (BR-DEC): no Factur-X for this receipt"
        )
    if isinstance(exponent := value.as_tuple().exponent, int) and exponent < -2:
        trimmed = value.quantize(_CENT)
        if trimmed == value:
            value = trimmed
    return f"{value:f}"


class _Builder:
    def __init__(self) -> None:
        self.root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)

    @staticmethod
    def add(
        parent: etree._Element, tag: str, text: str | None = None, **attrs: str
    ) -> etree._Element:
        prefix, name = tag.split(":")
        el = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}")
        for key, value in attrs.items():
            el.set(key, value)
        if text is not None:
            el.text = _NOT_XML.sub("", text)
        return el


def _address(b: _Builder, party: etree._Element, lines: tuple[str, ...], country: str) -> None:
    """BG-5/BG-8: a French ``91000 Évry`` line gives the postcode and city, others lines."""
    address = b.add(party, "ram:PostalTradeAddress")
    postcode = city = None
    street: list[str] = []
    for line in (line.strip() for line in lines):
        match = _POSTCODE_CITY.fullmatch(line) if country == "FR" else None
        if match and postcode is None:
            postcode, city = match.groups()
        elif line:
            street.append(line)
    if len(street) > 3:  # LineOne, LineTwo, LineThree: the rest joins the third
        street[2:] = [", ".join(street[2:])]
    if postcode is not None:
        b.add(address, "ram:PostcodeCode", postcode)
    for tag, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), street, strict=False):
        b.add(address, tag, line)
    if city is not None:
        b.add(address, "ram:CityName", city)
    b.add(address, "ram:CountryID", country)


def _date(b: _Builder, parent: etree._Element, tag: str, day: dt.date) -> None:
    when = b.add(parent, tag)
    b.add(when, "udt:DateTimeString", f"{day:%Y%m%d}", format="102")


def cii_xml(
    doc: ReceiptDocument,
    buyer: BusinessParty,
    *,
    seller_id: str,
    vat_exemption_reason: str | None = None,
) -> bytes:
    """The Factur-X BASIC CII XML of the paid invoice (``kind="receipt"``, type 380) or of
    the credit note (``kind="credit_note"``, type 381), as UTF-8 bytes.

    ``seller_id`` is the issuer's SIRET (or SIREN), written as its legal registration
    identifier (BT-30, scheme 0002); when ``doc.issuer_identifier`` is a SIREN or SIRET
    too, both must belong to the same SIREN. ``vat_exemption_reason`` replaces the
    default text that says why there is no VAT (article 256 B of the CGI). The issue date
    is the payment (or refund) date on the issuer's wall clock. Deterministic: the same
    arguments give the same bytes.
    """
    seller = _siren_or_siret(seller_id, "seller_id", quote=True)
    issuer = _SPACES.sub("", doc.issuer_identifier)
    if (
        issuer.isascii()
        and issuer.isdigit()
        and len(issuer) in (9, 14)
        and issuer[:9] != seller[:9]
    ):
        raise FacturXError(
            f"seller_id {seller_id!r} is not the receipt issuer's {doc.issuer_identifier!r}"
        )
    lang = doc.language
    credit = doc.kind == "credit_note"
    cur = doc.currency
    paid_on = doc.local_paid_at.date()
    reason = vat_exemption_reason or word("vat_exemption_reason", lang)
    b = _Builder()
    add = b.add

    context = add(b.root, "rsm:ExchangedDocumentContext")
    add(add(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", PROFILE_BASIC)

    header = add(b.root, "rsm:ExchangedDocument")
    add(header, "ram:ID", doc.number if credit else doc.invoice_number)
    add(header, "ram:TypeCode", "381" if credit else "380")
    _date(b, header, "ram:IssueDateTime", paid_on)
    note = word(
        "facturx_refunded" if credit else "facturx_paid",
        lang,
        date=f"{paid_on:%d/%m/%Y}" if lang == "fr" else f"{paid_on:%Y-%m-%d}",
        card=payment_method(doc),
        psp=doc.psp_reference,
        number=doc.number,
        receipt=doc.credit_note_for,
        invoice=doc.invoice_number,
    )
    add(add(header, "ram:IncludedNote"), "ram:Content", note)
    if doc.invoice_reference.strip():
        reference = word("facturx_reference", lang, reference=doc.invoice_reference.strip())
        add(add(header, "ram:IncludedNote"), "ram:Content", reference)

    trade = add(b.root, "rsm:SupplyChainTradeTransaction")
    for number, line in enumerate(doc.lines, start=1):
        item = add(trade, "ram:IncludedSupplyChainTradeLineItem")
        add(add(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(number))
        add(add(item, "ram:SpecifiedTradeProduct"), "ram:Name", line.description)
        price = add(add(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice")
        add(price, "ram:ChargeAmount", _amount(line.unit_amount, cur, price=True))
        delivery = add(item, "ram:SpecifiedLineTradeDelivery")
        add(delivery, "ram:BilledQuantity", str(line.quantity), unitCode=UNIT_ONE)
        settlement = add(item, "ram:SpecifiedLineTradeSettlement")
        tax = add(settlement, "ram:ApplicableTradeTax")
        add(tax, "ram:TypeCode", "VAT")
        add(tax, "ram:CategoryCode", VAT_CATEGORY_OUTSIDE)
        summation = add(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        add(summation, "ram:LineTotalAmount", _amount(line.amount, cur))

    agreement = add(trade, "ram:ApplicableHeaderTradeAgreement")
    seller_party = add(agreement, "ram:SellerTradeParty")
    add(seller_party, "ram:Name", doc.issuer_name)
    add(
        add(seller_party, "ram:SpecifiedLegalOrganization"),
        "ram:ID",
        seller,
        schemeID=SCHEME_SIRENE,
    )
    _address(b, seller_party, doc.issuer_address, "FR")
    buyer_party = add(agreement, "ram:BuyerTradeParty")
    if buyer.vat_number is not None:  # BT-46, not BT-48: see BR-O-02 in the module docstring
        add(buyer_party, "ram:ID", buyer.vat_number)
    add(buyer_party, "ram:Name", buyer.name)
    if buyer.company_id is not None:
        legal = add(buyer_party, "ram:SpecifiedLegalOrganization")
        add(legal, "ram:ID", buyer.company_id, schemeID=SCHEME_SIRENE)
    _address(b, buyer_party, (), buyer.country)

    add(trade, "ram:ApplicableHeaderTradeDelivery")

    settlement = add(trade, "ram:ApplicableHeaderTradeSettlement")
    add(settlement, "ram:InvoiceCurrencyCode", cur)
    means = add(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
    add(means, "ram:TypeCode", PAYMENT_MEANS_CARD)
    tax = add(settlement, "ram:ApplicableTradeTax")
    add(tax, "ram:CalculatedAmount", _amount(0, cur))
    add(tax, "ram:TypeCode", "VAT")
    add(tax, "ram:ExemptionReason", reason)
    add(tax, "ram:BasisAmount", _amount(doc.total, cur))
    add(tax, "ram:CategoryCode", VAT_CATEGORY_OUTSIDE)
    add(tax, "ram:ExemptionReasonCode", VATEX_OUTSIDE)
    totals = add(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    add(totals, "ram:LineTotalAmount", _amount(doc.total, cur))
    add(totals, "ram:TaxBasisTotalAmount", _amount(doc.total, cur))
    add(totals, "ram:TaxTotalAmount", _amount(0, cur), currencyID=cur)
    add(totals, "ram:GrandTotalAmount", _amount(doc.total, cur))
    add(totals, "ram:TotalPrepaidAmount", _amount(doc.total, cur))
    add(totals, "ram:DuePayableAmount", _amount(0, cur))
    if credit:
        add(
            add(settlement, "ram:InvoiceReferencedDocument"),
            "ram:IssuerAssignedID",
            doc.invoice_number,
        )

    return bytes(etree.tostring(b.root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
