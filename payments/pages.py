"""The citizen's pages: the pay link, the hand-over to the PSP, the return page.

Nothing here trusts the browser: the return page shows what the server knows (from the
PSP's signed events) and refreshes itself until the event has arrived.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payments.schemas import InvoiceOut, PaymentOut
from payments.service import PaymentsService
from regie.kit.database import utcnow
from regie.kit.errors import ApiError
from regie.kit.i18n import translate
from regie.kit.web import page_lang, render

router = APIRouter(include_in_schema=False)


def _svc(request: Request) -> PaymentsService:
    return request.app.state.payments  # type: ignore[no-any-return]


def _not_found(request: Request, lang: str) -> HTMLResponse:
    return render(
        request,
        "message.html",
        lang=lang,
        status_code=404,
        title=translate("link_invalid_title", lang),
        body=translate("link_invalid_body", lang),
    )


def _status_notice(inv: InvoiceOut, issuer: str, lang: str) -> tuple[str | None, str]:
    key = {
        "paid": "already_paid",
        "canceled": "is_canceled",
        "expired": "is_expired",
        "refunded": "is_refunded",
        "partially_refunded": "already_paid",
        "disputed": "already_paid",
    }.get(inv.status)
    if key is None:
        return None, ""
    return translate(key, lang, issuer=issuer), "success" if key == "already_paid" else "warning"


@router.get("/pay/{token}", response_class=HTMLResponse)
async def pay_page(token: str, request: Request, canceled: int | None = None) -> Response:
    found = await _svc(request).invoice_for_token(token)
    if found is None:
        return _not_found(request, page_lang(request))
    inv, issuer = found.invoice, found.issuer
    lang = page_lang(request, inv.locale)
    notice, kind = _status_notice(inv, issuer, lang)
    payable = inv.status == "open" and inv.expires_at > utcnow()
    if inv.status == "open" and not payable:  # past its expiry; the sweeper will record it
        notice, kind = translate("is_expired", lang, issuer=issuer), "warning"
    elif notice is None and canceled:
        notice, kind = translate("not_completed", lang), "warning"
    return render(
        request,
        "pay.html",
        lang=lang,
        inv=inv,
        issuer=issuer,
        token=token,
        tz=found.timezone,
        payable=payable,
        notice=notice,
        notice_kind=kind,
    )


@router.post("/pay/{token}/checkout")
async def checkout(token: str, request: Request) -> Response:
    svc = _svc(request)
    found = await svc.invoice_for_token(token)
    lang = page_lang(request, found.invoice.locale if found else None)
    if found is None:
        return _not_found(request, lang)
    try:
        url = await svc.start_checkout(token, lang)
    except ApiError as err:
        if err.status == 409:
            return RedirectResponse(f"/pay/{token}?lang={lang}", status_code=303)
        if err.status == 502:
            return render(
                request,
                "message.html",
                lang=lang,
                status_code=502,
                switch_path=f"/pay/{token}",
                title=translate("error_title", lang),
                body=translate("psp_down", lang),
            )
        raise
    return RedirectResponse(url, status_code=303)


def _decline_message(p: PaymentOut, lang: str) -> str:
    code = p.failure.code if p.failure else None
    key = {
        "card_declined": "declined_card_declined",
        "insufficient_funds": "declined_insufficient_funds",
    }.get(code or "", "declined_other")
    return translate(key, lang)


@router.get("/pay/{token}/return", response_class=HTMLResponse)
async def return_page(token: str, request: Request, payment: str | None = None) -> Response:
    svc = _svc(request)
    found = await svc.invoice_for_token(token)
    if found is None:
        return _not_found(request, page_lang(request))
    inv, issuer = found.invoice, found.issuer
    lang = page_lang(request, inv.locale)
    # the invoice and its payments come from one read, so they cannot disagree
    this = next((p for p in inv.payments if p.id == payment), None) if payment else None
    paid = next((p for p in inv.payments if p.status == "succeeded" and not p.is_overpayment), None)
    context: dict[str, object] = {
        "inv": inv,
        "issuer": issuer,
        "token": token,
        "paid_payment": paid,
        "tz": found.timezone,
    }
    if inv.status in ("paid", "partially_refunded", "refunded", "disputed") and paid is not None:
        state = "success"
    elif this is not None and inv.status == "open" and this.status in ("pending", "succeeded"):
        state = "pending"  # a success not yet applied to the invoice is still being confirmed
    elif this is not None and this.status == "failed" and inv.status == "open":
        state, context["decline_message"] = "failed", _decline_message(this, lang)
    elif inv.status == "open":
        return RedirectResponse(f"/pay/{token}?lang={lang}", status_code=303)
    else:
        state, context["message"] = "other", _status_notice(inv, issuer, lang)[0]
    return render(request, "return.html", lang=lang, state=state, context=context)
