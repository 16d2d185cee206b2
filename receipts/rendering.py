"""A receipt's PDF from its frozen snapshot alone (no I/O): what the render drain and a
first download both run, so that they make the same bytes.

The snapshot is ``receipts.codes.snapshot`` of the document, plus, for a business payer,
``facturx``: the buyer and the seller's identifier, frozen with it, from which a Factur-X
BASIC XML is embedded (so that the payer's accounting software reads the receipt as an
invoice)."""

from __future__ import annotations

import logging
from typing import Any

from receipts.codes import from_snapshot
from receipts.document import ReceiptDocument
from receipts.facturx_pdf import embed
from receipts.facturx_xml import BusinessParty, FacturXError, cii_xml
from receipts.render import render_pdf

log = logging.getLogger("regie.receipts")


def facturx_part(
    payer_name: str, company_id: str | None, vat_number: str | None, seller_id: str
) -> dict[str, Any]:
    """What the snapshot keeps for a Factur-X receipt ({} for a private payer)."""
    if not (company_id or vat_number):
        return {}
    return {
        "facturx": {
            "buyer_name": payer_name,
            "company_id": company_id,
            "vat_number": vat_number,
            "seller_id": seller_id,
        }
    }


def pdf_of_snapshot(document: dict[str, Any]) -> bytes:
    """The PDF of a stored snapshot: deterministic (same snapshot, same bytes)."""
    return pdf_of(from_snapshot(document), document.get("facturx"))


def pdf_of(doc: ReceiptDocument, facturx: dict[str, Any] | None) -> bytes:
    pdf = render_pdf(doc)
    if not facturx:
        return pdf
    try:
        buyer = BusinessParty(
            facturx["buyer_name"],
            company_id=facturx.get("company_id"),
            vat_number=facturx.get("vat_number"),
        )
        xml = cii_xml(doc, buyer, seller_id=facturx["seller_id"])
        return embed(pdf, xml, lang=doc.language, created=doc.issued_at or doc.paid_at)
    except FacturXError as exc:
        # e.g. an issuer without a SIRET: the plain receipt is still valid and issued
        log.warning(
            "no Factur-X for this receipt", extra={"number": doc.number, "reason": str(exc)}
        )
        return pdf
