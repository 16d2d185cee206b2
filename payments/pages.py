"""The citizen's pages: the pay link, the hand-over to the PSP, the return page.

Nothing here trusts the browser: the return page shows what the server knows (from the
PSP's signed events, or from the PSP itself, asked server-side about the payment's
checkout) and refreshes itself only while the PSP has not said the outcome.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payments.schemas import InvoiceOut, PaymentOut
from payments.service import PaymentsService
from payments.service.checkout import PayLink, PaymentInProgress
from regie.kit.database import utcnow
from regie.kit.errors import ApiError
from regie.kit.i18n import translate
from regie.kit.money import format_money
from regie.kit.ratelimit import RateLimits, too_many_page
from regie.kit.web import accepts_html, format_date, page_lang, render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class ReceiptRef:
    """An invoice's receipt, as the citizen's pages name it and link it."""

    number: str
    issued_at: dt.datetime


# the shell sets ``app.state.receipt_of`` (payments does not import receipts): the
# receipt of an invoice, by its id, or None
ReceiptOf = Callable[[str], Awaitable[ReceiptRef | None]]


def _svc(request: Request) -> PaymentsService:
    return request.app.state.payments  # type: ignore[no-any-return]


async def _receipt(request: Request, invoice_id: str) -> ReceiptRef | None:
    receipt_of: ReceiptOf | None = getattr(request.app.state, "receipt_of", None)
    return await receipt_of(invoice_id) if receipt_of is not None else None


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
        "partially_refunded": "paid_partly_refunded",
        "disputed": "already_paid",
    }.get(inv.status)
    if key is None:
        return None, ""
    refunded = format_money(inv.amount_refunded, inv.currency, lang)
    kind = "success" if key in ("already_paid", "paid_partly_refunded") else "warning"
    return translate(key, lang, issuer=issuer, refunded=refunded), kind


PAY_PREFIX = "/pay/"
_TOKEN = re.compile(r"/pay/([A-Za-z0-9_-]{1,100})(?:/|$)")


def error_page(request: Request, err: ApiError) -> Response | None:
    """A mistake under a pay link (``app.state.error_pages``), as a page in the citizen's
    language for a browser, not the API's JSON: the checkout's address opened as a link (a
    405), an address that does not exist, a NUL in the address; it says nothing was paid
    and leads back to the bill. A 5xx says to try again, nothing taken. A client that does
    not ask for a page (curl, an API client) gets None: the one JSON error shape."""
    if not accepts_html(request.headers.get("accept")):
        return None
    lang = page_lang(request)
    token = _TOKEN.match(request.url.path)
    if err.status == 404:
        title, body = translate("link_invalid_title", lang), translate("link_invalid_body", lang)
    elif err.status >= 500:
        title, body = translate("error_title", lang), translate("pay_error_body", lang)
    else:
        title, body = translate("pay_wrong_way_title", lang), translate("pay_wrong_way_body", lang)
    back = f"/pay/{token.group(1)}" if token else None
    page = render(
        request,
        "message.html",
        lang=lang,
        status_code=err.status,
        switch_path=back,
        title=title,
        body=body,
        link=(back, translate("pay_back_to_bill", lang)) if back else None,
    )
    for name, value in (err.headers or {}).items():
        page.headers[name] = value  # a 405's Allow, a 503's Retry-After
    return page


def _too_soon(found: PayLink, lang: str) -> str:
    minutes = math.ceil(found.min_checkout_life.total_seconds() / 60)
    return translate("expires_too_soon", lang, minutes=minutes, issuer=found.issuer)


@router.get("/pay/{token}", response_class=HTMLResponse)
async def pay_page(token: str, request: Request, canceled: int | None = None) -> Response:
    found = await _svc(request).invoice_for_token(token)
    if found is None:
        return _not_found(request, page_lang(request))
    inv, issuer = found.invoice, found.issuer
    lang = page_lang(request, inv.locale)
    notice, kind = _status_notice(inv, issuer, lang)
    now = utcnow()
    payable = inv.status == "open" and inv.expires_at > now
    processing = any(p.status == "pending" and p.processing_since for p in inv.payments)
    if inv.status == "open" and not payable:  # past its expiry; the sweeper will record it
        notice, kind = translate("is_expired", lang, issuer=issuer), "warning"
    elif payable and processing:  # a delayed payment is on its way: do not pay twice
        payable, notice, kind = False, translate("processing_body", lang), ""
    elif payable and now >= found.pay_until:  # a checkout would outlive the invoice
        payable, notice, kind = False, _too_soon(found, lang), "warning"
    elif notice is None and canceled:
        notice, kind = translate("not_completed", lang), "warning"
    # a bill that was paid (even if refunded since) links its receipt
    receipt = (
        None if inv.status in ("open", "canceled", "expired") else await _receipt(request, inv.id)
    )
    # when it was paid, as the return page says it: the payment's success, else the receipt's
    paid = next((p for p in inv.payments if p.status == "succeeded" and not p.is_overpayment), None)
    paid_at = None
    if inv.status not in ("open", "canceled", "expired"):
        paid_at = (paid.succeeded_at if paid else None) or inv.paid_at
        paid_at = paid_at or (receipt.issued_at if receipt else None)
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
        receipt=receipt,
        paid_at=paid_at,
        # not payable here (expired, canceled, too late): how to reach the service
        contact=found.contact if not payable and kind == "warning" else None,
    )


@router.post("/pay/{token}/checkout")
async def checkout(token: str, request: Request) -> Response:
    svc = _svc(request)
    found = await svc.invoice_for_token(token)
    lang = page_lang(request, found.invoice.locale if found else None)
    if found is None:
        return _not_found(request, lang)
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    wait = await limits.checkouts.hit(found.invoice.id) if limits is not None else None
    if wait is not None:  # each press may open a checkout and a payment row: not without end
        return too_many_page(
            request,
            wait,
            lang=lang,
            body_key="too_many_checkouts_body",
            switch_path=f"/pay/{token}",
            contact=found.contact,
        )
    try:
        url = await svc.start_checkout(token, lang)
    except PaymentInProgress as err:  # paid (or on its way) on the PSP's page: show it
        return RedirectResponse(
            f"/pay/{token}/return?payment={err.payment_id}&session={err.checkout_id}&lang={lang}",
            status_code=303,
        )
    except ApiError as err:
        contact = found.contact
        if err.code == "invoice_expires_too_soon":
            title, body = translate("too_late_title", lang), _too_soon(found, lang)
        elif err.code == "provider_refused":
            title = translate("error_title", lang)
            body = translate("psp_refused", lang, issuer=found.issuer)
        elif err.code == "provider_unavailable":
            title, body, contact = translate("error_title", lang), translate("psp_down", lang), None
        elif err.status == 409:
            return RedirectResponse(f"/pay/{token}?lang={lang}", status_code=303)
        else:
            raise
        return render(
            request,
            "message.html",
            lang=lang,
            status_code=err.status,
            switch_path=f"/pay/{token}",
            title=title,
            body=body,
            contact=contact,  # these pages say "contact the service": how
        )
    return RedirectResponse(url, status_code=303)


def _decline_message(p: PaymentOut, lang: str) -> str:
    code = p.failure.code if p.failure else None
    key = {
        "card_declined": "declined_card_declined",
        "insufficient_funds": "declined_insufficient_funds",
    }.get(code or "", "declined_other")
    return translate(key, lang)


@router.get("/pay/{token}/return", response_class=HTMLResponse)
async def return_page(
    token: str, request: Request, payment: str | None = None, session: str | None = None
) -> Response:
    svc = _svc(request)
    found = await svc.invoice_for_token(token)
    if found is None:
        return _not_found(request, page_lang(request))
    if payment and _pending(found.invoice, payment):
        # ask the PSP (server-side) about this payment's checkout rather than wait for its
        # event, and show the truth: "waiting for your bank" only while it has not said
        await svc.confirm_return(payment, session[:255] if session else None)
        found = await svc.invoice_for_token(token) or found
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
    if this is not None and this.status == "succeeded" and this.is_overpayment:
        # it came after the bill was settled (a second tab, a canceled bill): it is given
        # back, and the citizen is told so, and when, never "payment received"
        notice = duplicate_notice(found, this, lang)
        state, context["duplicate"], context["this_payment"] = "duplicate", notice, this
        if notice.refund_state in ("failed", "by_service"):  # it says "contact …": say how
            context["contact"] = found.contact
    elif inv.status in ("paid", "partially_refunded", "refunded", "disputed") and paid is not None:
        state, context["receipt"] = "success", await _receipt(request, inv.id)
        if inv.status in ("refunded", "partially_refunded"):  # opened again after a refund
            context["refund_notice"], context["refund_kind"] = _status_notice(inv, issuer, lang)
    elif this is not None and this.status == "pending" and this.processing_since:
        state = "processing"  # a delayed method: its bank pays in a few days
    elif this is not None and inv.status == "open" and this.status in ("pending", "succeeded"):
        state = "pending"  # a success not yet applied to the invoice is still being confirmed
    elif this is not None and this.status == "failed" and inv.status == "open":
        state, context["decline_message"] = "failed", _decline_message(this, lang)
    elif inv.status == "open":
        return RedirectResponse(f"/pay/{token}?lang={lang}", status_code=303)
    else:
        state, context["message"] = "other", _status_notice(inv, issuer, lang)[0]
        context["contact"] = found.contact  # (expired, canceled: the service can help)
    return render(request, "return.html", lang=lang, state=state, context=context)


@dataclass(frozen=True)
class DuplicateNotice:
    """What the return page of an overpayment says: why it is given back, and how the
    refund goes (``refund_state``: in_progress, done, failed, by_service)."""

    title: str
    lead: str
    refund_state: str
    refund: str


def duplicate_notice(found: PayLink, this: PaymentOut, lang: str) -> DuplicateNotice:
    """Pure: the notice of a payment that came after its bill was settled, from the bill's
    refunds of that payment (the automatic refund of an overpayment, or one a human made)."""
    inv, issuer = found.invoice, found.issuer
    amount = format_money(this.amount, this.currency, lang)
    where = (
        translate("refund_to_card", lang, brand=this.card.brand.upper(), last4=this.card.last4)
        if this.card and this.card.brand and this.card.last4
        else translate("refund_to_method", lang)
    )
    not_owed = inv.status == "canceled"
    title = translate("not_owed_title" if not_owed else "duplicate_title", lang)
    lead = translate(
        "not_owed_lead" if not_owed else "duplicate_lead", lang, amount=amount, where=where
    )
    mine = [r for r in found.refunds if r.payment == this.id]
    done = [r.succeeded_at for r in mine if r.status == "succeeded" and r.succeeded_at]
    if any(r.status == "pending" for r in mine):
        state, text = "in_progress", translate("refund_in_progress", lang)
    elif done:
        when = format_date(max(done), lang, found.timezone)
        state, text = "done", translate("refund_done", lang, date=when)
    elif mine:  # every refund of it failed: a human takes over
        state, text = "failed", translate("refund_failed", lang, issuer=issuer)
    else:  # not refunded automatically (REGIE_AUTO_REFUND_OVERPAYMENTS=false)
        state, text = "by_service", translate("refund_by_service", lang, issuer=issuer)
    return DuplicateNotice(title, lead, state, text)


def _pending(inv: InvoiceOut, payment_id: str) -> bool:
    return any(p.id == payment_id and p.status == "pending" for p in inv.payments)
