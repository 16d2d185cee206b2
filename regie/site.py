"""The site's root page and favicon (part of the shell).

``/`` says in a few lines what regie is and for whom, in French or English, and links the
API reference (``/docs``); a citizen who lands here learns that a bill is paid through its
own link. ``/favicon.ico`` is the committed icon in ``regie/kit/static`` (with its SVG).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from regie.kit.i18n import translate_in
from regie.kit.web import page_lang, render

router = APIRouter(include_in_schema=False)

# the root page's own words (the citizen pages' are in regie.kit.i18n)
WORDS: dict[str, dict[str, str]] = {
    "home_title": {
        "fr": "Paiement en ligne des factures de services publics",
        "en": "Online payment of public services' bills",
    },
    "home_lead": {
        "fr": "regie permet aux collectivités et aux services publics d'envoyer des factures "
        "payables en ligne par carte, de délivrer les reçus et d'en tenir les comptes.",
        "en": "regie lets local authorities and public services send bills that can be paid "
        "online by card, issue the receipts and keep the books.",
    },
    "home_citizen_heading": {"fr": "Vous avez une facture à payer", "en": "You have a bill to pay"},
    "home_citizen": {
        "fr": "Ouvrez le lien de paiement reçu avec votre facture (par courriel ou sur le "
        "courrier). Ce site ne permet pas de retrouver une facture sans son lien\u00a0: en cas "
        "de besoin, contactez le service qui vous l'a envoyée.",
        "en": "Open the payment link that came with your bill (by email or on the letter). "
        "This site cannot find a bill without its link: if needed, contact the service that "
        "sent it to you.",
    },
    "home_service_heading": {
        "fr": "Vous travaillez pour un service public",
        "en": "You work for a public service",
    },
    "home_service": {
        "fr": "Les logiciels de votre service créent les factures et suivent les paiements par "
        "l'API de regie.",
        "en": "Your service's software creates the bills and follows the payments through "
        "regie's API.",
    },
    "home_docs": {
        "fr": "Documentation de l'API (en anglais)",
        "en": "API documentation",
    },
    "home_finance": {"fr": "Espace finances (agents comptables)", "en": "Finance workspace"},
}


def word(key: str, lang: str, **kwargs: object) -> str:
    return translate_in(WORDS, key, lang, **kwargs)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    return render(request, "home.html", lang=page_lang(request), st=word)


@router.get("/favicon.ico")
async def favicon() -> Response:
    icon = (files("regie.kit") / "static" / "favicon.ico").read_bytes()
    return Response(
        icon,
        media_type="image/vnd.microsoft.icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )
