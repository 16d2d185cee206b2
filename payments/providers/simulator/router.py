"""The simulator PSP's own pages under ``/_simulator/`` (its hosted card page; the
templates are this subpackage's ``templates/simulator_*.html``).

Mounted only when ``REGIE_PSP=simulator``. The card number is checked and dropped at
once: the simulator keeps the brand and the last 4 digits, nothing else.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payments.providers.base import ProviderError
from payments.providers.simulator.cards import CardError, check_card
from payments.providers.simulator.provider import SimulatorProvider
from regie.kit.database import utcnow
from regie.kit.i18n import translate
from regie.kit.web import page_lang, render

router = APIRouter(prefix="/_simulator", include_in_schema=False)

_FIELD_OF = {
    "invalid_number": "number",
    "not_a_test_card": "number",
    "invalid_expiry": "expiry",
    "invalid_cvc": "cvc",
}


def _sim(request: Request) -> SimulatorProvider:
    return request.app.state.payments.providers.get("simulator")  # type: ignore[no-any-return]


async def _page(
    request: Request,
    checkout_id: str,
    *,
    error: str | None = None,
    field: str | None = None,
    status: int = 200,
) -> Response:
    cs = await _sim(request).get_checkout(checkout_id)
    lang = page_lang(request, cs.locale if cs else None)
    if cs is None:
        return render(
            request,
            "message.html",
            lang=lang,
            status_code=404,
            title=translate("link_invalid_title", lang),
            body=translate("link_invalid_body", lang),
        )
    is_open = cs.status == "open" and cs.expires_at > utcnow()
    if not is_open and error is None:
        error = translate("err_closed", lang)
    return render(
        request,
        "simulator_checkout.html",
        lang=lang,
        status_code=status,
        cs=cs,
        open=is_open,
        error=translate(error, lang) if error and error.startswith("err_") else error,
        error_field=field,
    )


@router.get("/checkout/{checkout_id}", response_class=HTMLResponse)
async def card_page(checkout_id: str, request: Request) -> Response:
    return await _page(request, checkout_id)


@router.post("/checkout/{checkout_id}")
async def submit_card(
    checkout_id: str,
    request: Request,
    card_number: Annotated[str, Form(max_length=40)] = "",
    expiry: Annotated[str, Form(max_length=10)] = "",
    cvc: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    sim = _sim(request)
    try:
        card = check_card(card_number, expiry, cvc, utcnow().date())
    except CardError as err:
        return await _page(
            request, checkout_id, error=f"err_{err.code}", field=_FIELD_OF.get(err.code), status=422
        )
    finally:
        del card_number  # never kept, never logged
    try:
        result = await sim.pay(checkout_id, card)
    except ProviderError:
        return await _page(request, checkout_id, error="err_closed", status=409)
    if result.needs_confirmation:
        cs = await sim.get_checkout(checkout_id)
        return render(
            request,
            "simulator_confirm.html",
            lang=page_lang(request, cs.locale if cs else None),
            cs=cs,
        )
    assert result.redirect is not None
    return RedirectResponse(result.redirect, status_code=303)


@router.post("/checkout/{checkout_id}/confirm")
async def confirm(
    checkout_id: str, request: Request, decision: Annotated[str, Form(max_length=10)] = ""
) -> Response:
    try:
        result = await _sim(request).confirm(checkout_id, approve=decision == "approve")
    except ProviderError:
        return await _page(request, checkout_id, error="err_closed", status=409)
    assert result.redirect is not None
    return RedirectResponse(result.redirect, status_code=303)
