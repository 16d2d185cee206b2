"""The simulator PSP's own pages under ``/_simulator/`` (its hosted card page; the
templates are this subpackage's ``templates/simulator_*.html``).

Mounted only when ``REGIE_PSP=simulator``. The card number is checked and dropped at
once: the simulator keeps the brand and the last 4 digits, nothing else. Every answer to
the card form is a redirect (a refused form's problems travel to the card page as
``refused`` says).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from payments.providers.base import ProviderError
from payments.providers.simulator.cards import CardError, check_card
from payments.providers.simulator.hosted import CardResult
from payments.providers.simulator.provider import SimulatorProvider
from payments.providers.simulator.refused import COOKIE, Refused, cookie_path, dump, load
from regie.kit.database import utcnow
from regie.kit.i18n import LANGS, translate
from regie.kit.web import page_lang, render

router = APIRouter(prefix="/_simulator", include_in_schema=False)

# each problem's field: the input's id, which the error summary links to
_FIELD_OF = {
    "invalid_number": "card_number",
    "not_a_test_card": "card_number",
    "invalid_expiry": "expiry",
    "invalid_cvc": "cvc",
}


@dataclass(frozen=True)
class Typed:
    """What the page shows again after an error: never the card number (a valid test
    card's last four digits at most) nor the security code."""

    number: str = ""
    expiry: str = ""


def _sim(request: Request) -> SimulatorProvider:
    return request.app.state.payments.providers.get("simulator")  # type: ignore[no-any-return]


def _switch(checkout_id: str) -> str:
    # the language link of a page answering a POST leads to the card page (or its step)
    return f"/_simulator/checkout/{checkout_id}"


def _back_to_page(request: Request, checkout_id: str) -> RedirectResponse:
    """The answer to a form of the card page that does not leave it: a redirect to the card
    page (in the form's language), which shows what comes next on a plain GET, so reloading
    it, or Back to it, never sends the form again."""
    lang = request.query_params.get("lang")
    step = _switch(checkout_id) + (f"?lang={lang}" if lang in LANGS else "")
    return RedirectResponse(step, status_code=303)


@dataclass(frozen=True)
class Closed:
    """A card page that takes no more card: whether its payment was accepted (the bill is
    paid: see the payment and its receipt) or nothing was taken here (back to the bill,
    which says where it stands), and the link to go there."""

    paid: bool
    url: str


async def _page(
    request: Request,
    checkout_id: str,
    *,
    codes: tuple[str, ...] = (),
    typed: Typed | None = None,
) -> Response:
    """The card page, its confirmation step, or what became of its payment; ``codes``: the
    problems of the fields, each said at its field and in the summary."""
    sim = _sim(request)
    cs = await sim.get_checkout(checkout_id)
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
    is_live = cs.expires_at > utcnow()
    if cs.status == "requires_action" and is_live:
        return render(  # the confirmation step, again (say, in the other language)
            request, "simulator_confirm.html", lang=lang, cs=cs, switch_path=_switch(cs.id)
        )
    closed = None
    if cs.status == "complete":  # paid here (in this tab or another): it says so
        closed = Closed(paid=True, url=cs.success_url)
    elif cs.status != "open" or not is_live:  # declined, closed, expired: nothing taken
        closed = Closed(paid=False, url=cs.cancel_url)
    field_errors: dict[str, str] = {}
    for code in codes if closed is None else ():  # one message per field, its first problem
        field_errors.setdefault(_FIELD_OF[code], translate(f"err_{code}", lang))
    return render(
        request,
        "simulator_checkout.html",
        lang=lang,
        switch_path=_switch(cs.id),
        cs=cs,
        closed=closed,
        field_errors=field_errors,
        typed=typed or Typed(),
    )


@router.get("/checkout/{checkout_id}", response_class=HTMLResponse)
async def card_page(checkout_id: str, request: Request) -> Response:
    refused = load(request.cookies.get(COOKIE), checkout_id, _sim(request).secret, utcnow())
    if refused is None:
        return await _page(request, checkout_id)
    typed = Typed(number=refused.number, expiry=refused.expiry)
    return await _page(request, checkout_id, codes=refused.codes, typed=typed)


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
        # the card page says every problem on a GET (post/redirect/get)
        refused = Refused(err.codes, number=err.kept or "", expiry=expiry.strip())
        response: Response = _back_to_page(request, checkout_id)
        response.set_cookie(
            COOKIE,
            dump(refused, checkout_id, sim.secret, utcnow()),
            path=cookie_path(checkout_id),
            httponly=True,
            samesite="strict",
        )
        return response
    finally:
        del card_number, cvc  # never kept, never logged
    try:
        result = await sim.pay(checkout_id, card)
    except ProviderError:  # paid or closed meanwhile (another tab): the page says which
        result = CardResult()
    if result.redirect is None:
        # the confirmation step, or what became of the payment, is shown by the card page
        # on a GET: reloading it, or Back to it after paying, never sends the card again
        response = _back_to_page(request, checkout_id)
    else:
        response = RedirectResponse(result.redirect, status_code=303)
    response.delete_cookie(COOKIE, path=cookie_path(checkout_id))  # its problems are over
    return response


@router.post("/checkout/{checkout_id}/confirm")
async def confirm(
    checkout_id: str, request: Request, decision: Annotated[str, Form(max_length=10)] = ""
) -> Response:
    try:
        result = await _sim(request).confirm(checkout_id, approve=decision == "approve")
    except ProviderError:  # answered already (another tab), or closed: the page says which
        return _back_to_page(request, checkout_id)
    assert result.redirect is not None
    return RedirectResponse(result.redirect, status_code=303)
