"""What a receipt without its Factur-X says in the logs: why, never the payer's data.

``receipts.rendering.pdf_of`` issues the plain receipt and logs a warning with the reason
when the Factur-X part cannot be made. That reason is a ``FacturXError``'s message: it must
name what is wrong (the field, the XML element) without quoting the payer's name or
identifiers. Every record is captured by ``caplog`` at DEBUG on every logger (the
``factur-x`` package's included), before regie's masking, with all of its fields.
"""

from __future__ import annotations

import logging

import pytest

from receipts.facturx_pdf import check_xsd
from receipts.facturx_xml import FacturXError, cii_xml
from receipts.rendering import facturx_part, pdf_of
from tests.receipts.test_facturx import ACME, SELLER
from tests.receipts.test_render import make_doc

NAME = "Zéphyrine Quatremaire EI"  # a sole trader: her business's name is hers
ADDRESS = ("12 rue des Acacias", "91000 Évry-Courcouronnes")
EMAIL = "zephyrine.quatremaire@example.org"


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record's message and every one of its attributes, as text."""
    return "\n".join(
        f"{record.getMessage()} {vars(record)!r} {record.exc_text or ''}"
        for record in caplog.records
    )


@pytest.mark.parametrize(
    ("company_id", "vat_number", "quoted"),
    [
        ("8140 2963 7000 1Z", None, "8140 2963 7000 1Z"),  # a SIRET with a typo
        (None, "FR 81/402 963 700", "FR 81/402 963 700"),  # a slash for a space
    ],
)
def test_a_receipt_without_factur_x_logs_why_without_the_payer_s_data(
    caplog: pytest.LogCaptureFixture, company_id: str | None, vat_number: str | None, quoted: str
) -> None:
    caplog.set_level(logging.DEBUG)
    doc = make_doc(payer_name=NAME, payer_address=ADDRESS)
    # a snapshot's Factur-X part as frozen: the receipt module checks it again when it renders
    part = facturx_part(NAME, company_id, vat_number, SELLER)["facturx"]
    pdf = pdf_of(doc, part)
    assert pdf.startswith(b"%PDF")
    [warning] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warning.getMessage() == "no Factur-X for this receipt"
    reason = str(getattr(warning, "reason", ""))
    assert ("company_id" if company_id else "vat_number") in reason  # it still says why
    logged = everything_logged(caplog)
    for personal in (NAME, "Quatremaire", *ADDRESS, EMAIL, quoted):
        assert personal not in logged, f"{personal!r} leaked into the logs"


def test_an_xml_the_schema_refuses_is_named_by_its_element_not_its_value() -> None:
    xml = cii_xml(make_doc(), ACME, seller_id=SELLER)
    bad = xml.replace(b">2</ram:BilledQuantity>", f"> {NAME}</ram:BilledQuantity>".encode())
    assert bad != xml
    with pytest.raises(FacturXError) as refused:
        check_xsd(bad)
    message = str(refused.value)
    assert "BilledQuantity" in message  # where the fault is, for whoever fixes it
    assert NAME not in message and "Quatremaire" not in message
