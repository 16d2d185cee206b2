"""Receipt downloads (API and citizen), the accessible HTML receipt, and verification."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from payments.models import Invoice
from receipts.amount_words import amount_in_words
from receipts.document import ReceiptDocument
from receipts.models import Receipt
from receipts.service import ReceiptsService, Verification
from receipts.words import contact_lines, issuer_identifier, word
from regie.kit.auth import Principal, authenticate
from regie.kit.errors import ApiError, NotFound
from regie.kit.i18n import translate
from regie.kit.web import accepts_html, page_lang, render

api = APIRouter(tags=["receipts"])
pages = APIRouter(include_in_schema=False)

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"},
    404: {"description": "No such invoice, or no receipt yet"},
}
# what a verification link may hold, the API's and the page's rule alike: a longer or
# other text is no receipt's (the page cut it to 32 characters, and a code followed by
# spaces and more was then the printed one)
NUMBER = r"^(AV-)?[0-9]{4}-[0-9]{6}$"
ISSUER = r"^[a-z0-9][a-z0-9-]{1,39}$"
MAX_CODE = 32
Number = Annotated[str, Path(max_length=32, pattern=NUMBER)]
Issuer = Annotated[
    str,
    Path(
        max_length=40,
        pattern=ISSUER,
        description="The issuer: its SIREN (9 digits), or the service's short name when it has none",
    ),
]
Code = Annotated[str, Query(max_length=MAX_CODE)]


class VerificationOut(BaseModel):
    object: Literal["receipt_verification"] = "receipt_verification"
    status: Literal[
        "genuine", "disputed", "refunded", "partially_refunded", "canceled", "unknown"
    ] = Field(
        description="genuine; disputed (the payer's bank withdrew the funds: a chargeback "
        "under way); refunded or partially_refunded (a refund, or a lost dispute); canceled "
        "(a credit note whose refund failed); unknown (no such number and code)"
    )
    number: str
    kind: str | None
    amount: int | None
    currency: str | None
    issued_on: str | None
    issuer: str | None
    issuer_id: str | None = None  # the SIREN (or the service's short name) in the URL
    canceled_reason: str | None = None  # a cancelled credit note: why (its refund failed)


def _svc(request: Request) -> ReceiptsService:
    return request.app.state.receipts  # type: ignore[no-any-return]


FILE_PREFIX = {
    ("receipt", "fr"): "recu",
    ("receipt", "en"): "receipt",
    ("credit_note", "fr"): "avoir",
    ("credit_note", "en"): "credit-note",
}


async def _pdf_response(svc: ReceiptsService, receipt: Receipt) -> Response:
    """The PDF issued, named for what it is (``recu-2026-000001.pdf``,
    ``avoir-AV-2026-000001.pdf``) in its language."""
    prefix = FILE_PREFIX.get((receipt.kind, receipt.language), "recu")
    pdf, sha256 = await svc.pdf(receipt)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{prefix}-{receipt.number}.pdf"',
            "Cache-Control": "private, no-store",
            "X-Receipt-SHA256": sha256,
        },
    )


@api.get(
    "/v1/invoices/{invoice_id}/receipt.pdf",
    responses={200: {"content": {"application/pdf": {}}}, **ERRORS},
    response_class=Response,
    summary="Download the receipt of a paid invoice",
)
async def invoice_receipt(
    invoice_id: Annotated[str, Path(max_length=40, pattern=r"^inv_[0-9A-Z]{26}$")],
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
) -> Response:
    svc = _svc(request)
    receipt = await svc.for_invoice(
        invoice_id, None if principal.sees_all else principal.service_id
    )
    if receipt is None:
        raise ApiError(
            404,
            "receipt_missing",
            "This invoice has no receipt (it is not paid).",
            param="invoice_id",
        )
    return await _pdf_response(svc, receipt)


@api.get(
    "/v1/invoices/{invoice_id}/credit-notes/{number}.pdf",
    responses={200: {"content": {"application/pdf": {}}}, **ERRORS},
    response_class=Response,
    summary="Download a credit note of a refunded invoice",
)
async def credit_note_pdf(
    invoice_id: Annotated[str, Path(max_length=40, pattern=r"^inv_[0-9A-Z]{26}$")],
    number: Annotated[str, Path(max_length=32, pattern=r"^AV-[0-9]{4}-[0-9]{6}$")],
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
) -> Response:
    svc = _svc(request)
    notes = await svc.credit_notes_for(
        invoice_id, None if principal.sees_all else principal.service_id
    )
    note = next((n for n in notes if n.number == number), None)
    if note is None:
        raise ApiError(
            404, "credit_note_missing", "No such credit note for this invoice.", param="number"
        )
    return await _credit_note_response(svc, note)


async def _credit_note_response(svc: ReceiptsService, note: Receipt) -> Response:
    response = await _pdf_response(svc, note)
    cancel = await svc.cancellation(note)
    if cancel is not None:  # the refund failed after all: the credit note no longer holds
        response.headers["X-Credit-Note-Status"] = "canceled"
        response.headers["X-Credit-Note-Canceled-Reason"] = cancel.reason.encode(
            "ascii", "replace"
        ).decode()
    return response


def _verification_out(v: Verification) -> VerificationOut:
    return VerificationOut(
        status=v.status,  # type: ignore[arg-type]
        number=v.number,
        kind=v.kind,
        amount=v.amount,
        currency=v.currency,
        issued_on=v.issued_at,
        issuer=v.issuer,
        issuer_id=v.issuer_id,
        canceled_reason=v.canceled_reason,
    )


@api.get(
    "/v1/receipts/{issuer}/{number}/verify",
    response_model=VerificationOut,
    summary="Check a receipt or credit note by its issuer, number and code",
)
async def verify_api(issuer: Issuer, number: Number, request: Request, c: Code) -> VerificationOut:
    return _verification_out(await _svc(request).verify(number, c, issuer))


@api.get(
    "/v1/receipts/{number}/verify",
    response_model=VerificationOut,
    summary="Check a receipt by its number and code (the older form, without the issuer)",
)
async def verify_api_by_number(number: Number, request: Request, c: Code) -> VerificationOut:
    return _verification_out(await _svc(request).verify(number, c))


def _no_receipt(request: Request, token: str, inv: Invoice | None) -> Response:
    """The page of a receipt link that gives no receipt, in the citizen's language: the
    pay pages' own for a token that is no bill's; for a bill not paid, that it has no
    receipt yet, with a link to its pay page (which says where it stands)."""
    if inv is None:
        lang = page_lang(request)
        return render(
            request, "message.html", lang=lang, status_code=404,
            title=translate("link_invalid_title", lang), body=translate("link_invalid_body", lang),
        )  # fmt: skip
    lang = page_lang(request, inv.locale)
    return render(
        request, "message.html", lang=lang, status_code=404,
        title=translate("no_receipt_title", lang), body=translate("no_receipt_body", lang),
        link=(f"/pay/{token}?lang={lang}", translate("no_receipt_link", lang)),
    )  # fmt: skip


@pages.get("/pay/{token}/receipt.pdf")
async def citizen_pdf(token: str, request: Request) -> Response:
    """The receipt's PDF. Without one, a browser (``Accept: text/html``) gets the page a
    citizen can read; another client, the one JSON error shape (404 ``resource_missing``)."""
    found = await _svc(request).for_token(token)
    receipt, inv = found if found is not None else (None, None)
    if receipt is None:
        if accepts_html(request.headers.get("accept")):
            return _no_receipt(request, token, inv)
        raise NotFound("receipt")
    return await _pdf_response(_svc(request), receipt)


@pages.get("/pay/{token}/credit-notes/{number}.pdf")
async def citizen_credit_note(token: str, number: str, request: Request) -> Response:
    """A credit note of the bill behind this pay link, as the receipt page links it."""
    svc = _svc(request)
    found = await svc.for_token(token)
    if found is None:
        raise NotFound("credit_note")
    _, inv = found
    note = next((n for n in await svc.credit_notes_for(inv.id, None) if n.number == number), None)
    if note is None:
        raise NotFound("credit_note")
    return await _credit_note_response(svc, note)


@pages.get("/pay/{token}/receipt", response_class=HTMLResponse)
async def citizen_html(token: str, request: Request) -> Response:
    found = await _svc(request).for_token(token)
    receipt, inv = found if found is not None else (None, None)
    if receipt is None or inv is None:
        return _no_receipt(request, token, inv)
    svc = _svc(request)
    doc = svc.document(receipt)
    lang = page_lang(request, doc.language)
    notes = [
        CreditNoteLine(
            svc.document(n), f"/pay/{token}/credit-notes/{n.number}.pdf",
            canceled=await svc.cancellation(n) is not None,
        )
        for n in await svc.credit_notes_for(inv.id, None)
    ]  # fmt: skip
    return render(
        request, "receipt.html", lang=lang, doc=doc, rt=word, contact_lines=contact_lines,
        identifier=issuer_identifier, in_words=amount_in_words,
        pdf_url=f"/pay/{token}/receipt.pdf", credit_notes=notes,
    )  # fmt: skip


@dataclass(frozen=True)
class CreditNoteLine:
    """A refund as the citizen's receipt page lists it: its credit note and where to get it."""

    doc: ReceiptDocument
    url: str
    canceled: bool


@pages.get("/receipts/verify/{issuer}/{number}", response_class=HTMLResponse)
async def verify_page(issuer: str, number: str, request: Request, c: str = "") -> Response:
    """The QR code's page: the issuer (SIREN) and number in the path, the code after."""
    return await _checked_page(request, number, c, issuer)


@pages.get("/receipts/verify/{number}", response_class=HTMLResponse)
async def verify_page_by_number(number: str, request: Request, c: str = "") -> Response:
    """The older URLs, printed before the issuer was in the path: they still answer."""
    return await _checked_page(request, number, c)


async def _checked_page(
    request: Request, number: str, code: str, issuer: str | None = None
) -> Response:
    """The link read as the API reads it, never cut to fit (the cut text would be looked
    up: a code followed by spaces and more was the printed one): a code over 32 characters
    is refused (the API's 422), in the page's language, naming no document; a number or an
    issuer of another shape than a receipt's is no receipt's (the API's 404)."""
    if len(code) > MAX_CODE:
        return render(
            request, "verify.html", lang=page_lang(request), v=None, rt=word,
            identifier=issuer_identifier, status_code=422,
        )  # fmt: skip
    if re.fullmatch(NUMBER, number) is None or (
        issuer is not None and re.fullmatch(ISSUER, issuer) is None
    ):
        return _verify_page(request, Verification("unknown", ""))
    return _verify_page(request, await _svc(request).verify(number, code, issuer))


def _verify_page(request: Request, v: Verification) -> Response:
    return render(
        request, "verify.html", lang=page_lang(request), v=v, rt=word, identifier=issuer_identifier,
        status_code=200 if v.status != "unknown" else 404,
    )  # fmt: skip
