"""French and English strings of the citizen pages, the language choice, and days and
instants written in words in either language. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from zoneinfo import ZoneInfo

LANGS = ("fr", "en")
DEFAULT_LANG = "fr"

# French puts a no-break space (\u00a0) before ":" and ";", so they never start a line.
STRINGS: dict[str, dict[str, str]] = {
    "site_name": {"fr": "Paiement en ligne", "en": "Online payment"},
    # how to reach the service (contact.html)
    "contact_title": {"fr": "Contacter {issuer}", "en": "Contact {issuer}"},
    "contact_address": {"fr": "Adresse", "en": "Address"},
    "contact_email": {"fr": "Courriel", "en": "Email"},
    "contact_phone": {"fr": "Téléphone", "en": "Phone"},
    "contact_hours": {"fr": "Horaires d'ouverture", "en": "Opening hours"},
    "switch_to": {"fr": "English", "en": "Français"},
    "skip": {"fr": "Aller au contenu", "en": "Skip to content"},
    "pay_title": {"fr": "Payer votre facture", "en": "Pay your bill"},
    "bill_title": {"fr": "Votre facture", "en": "Your bill"},
    "bill_from": {"fr": "Facture de {issuer}", "en": "Bill from {issuer}"},
    "issuer": {"fr": "Service", "en": "Service"},
    "asks_you": {"fr": "{issuer} vous demande de régler\u00a0:", "en": "{issuer} asks you to pay:"},
    "amount_due": {"fr": "Montant à payer", "en": "Amount due"},
    "reason": {"fr": "Objet", "en": "What for"},
    "reference": {"fr": "Référence", "en": "Reference"},
    "invoice_number": {"fr": "Numéro de facture", "en": "Bill number"},
    "payer": {"fr": "Au nom de", "en": "In the name of"},
    "due_before": {"fr": "À payer avant le", "en": "Pay before"},
    "details": {"fr": "Détail", "en": "Details"},
    "qty": {"fr": "Qté", "en": "Qty"},
    "line_amount": {"fr": "Montant", "en": "Amount"},
    "amount_paid": {"fr": "Montant payé", "en": "Amount paid"},
    "paid_by": {"fr": "Moyen de paiement", "en": "Paid by"},
    "pay_button": {"fr": "Payer {amount} par carte", "en": "Pay {amount} by card"},
    "card_note": {
        "fr": "Vous saisirez votre carte sur la page sécurisée de notre prestataire de paiement. "
        "Nous ne voyons jamais le numéro de votre carte.",
        "en": "You will enter your card on the secure page of our payment provider. "
        "We never see your card number.",
    },
    "not_completed": {
        "fr": "Le paiement n'a pas été effectué. Aucune somme n'a été prélevée. Vous pouvez réessayer.",
        "en": "The payment was not made. No money was taken. You can try again.",
    },
    "already_paid": {
        "fr": "Cette facture est déjà payée.",
        "en": "This bill has already been paid.",
    },
    # a bill paid, then partly refunded: the citizen sees how much came back
    "paid_partly_refunded": {
        "fr": "Cette facture est payée\u00a0; un remboursement de {refunded} vous a été versé.",
        "en": "This bill is paid; {refunded} of it was refunded to you.",
    },
    "is_canceled": {
        "fr": "Cette facture a été annulée\u00a0: vous n'avez rien à payer.",
        "en": "This bill was canceled: you have nothing to pay.",
    },
    "is_expired": {
        "fr": "Ce lien de paiement a expiré. Contactez {issuer} pour en obtenir un nouveau.",
        "en": "This payment link has expired. Contact {issuer} for a new one.",
    },
    "is_refunded": {"fr": "Cette facture a été remboursée.", "en": "This bill was refunded."},
    "success_title": {"fr": "Paiement accepté", "en": "Payment received"},
    "success_body": {
        "fr": "Merci. Votre paiement de {amount} à {issuer} est confirmé.",
        "en": "Thank you. Your payment of {amount} to {issuer} is confirmed.",
    },
    "paid_with": {
        "fr": "Carte {brand} se terminant par {last4}",
        "en": "{brand} card ending {last4}",
    },
    "receipt_pdf": {"fr": "Télécharger le reçu (PDF)", "en": "Download the receipt (PDF)"},
    "receipt_number": {"fr": "Numéro du reçu", "en": "Receipt number"},
    "paid_on": {"fr": "Payé le", "en": "Paid on"},
    "receipt_html": {
        "fr": "Voir le reçu dans le navigateur",
        "en": "View the receipt in the browser",
    },
    # a receipt link of a bill that is not paid
    "no_receipt_title": {"fr": "Pas encore de reçu", "en": "No receipt yet"},
    "no_receipt_body": {
        "fr": "Cette facture n'a pas été payée\u00a0: elle n'a donc pas de reçu. Sa page de "
        "paiement indique où elle en est.",
        "en": "This bill has not been paid, so it has no receipt. Its payment page says where "
        "it stands.",
    },
    "no_receipt_link": {"fr": "Voir la facture", "en": "See the bill"},
    "back_to_service": {
        "fr": "Retourner sur le site du service",
        "en": "Go back to the service's website",
    },
    "pending_title": {"fr": "Paiement en cours de confirmation", "en": "Waiting for confirmation"},
    "pending_body": {
        "fr": "Nous attendons la confirmation de votre banque. Cette page se met à jour toute seule\u00a0; "
        "ne payez pas une seconde fois.",
        "en": "We are waiting for your bank to confirm. This page updates by itself; do not pay twice.",
    },
    "refresh": {"fr": "Actualiser", "en": "Refresh"},
    # the return page of a payment that came after the bill was settled (an overpayment)
    "duplicate_title": {"fr": "Paiement en double", "en": "Duplicate payment"},
    "not_owed_title": {"fr": "Paiement non dû", "en": "Payment not owed"},
    "duplicate_lead": {
        "fr": "Cette facture était déjà payée\u00a0: vous l'avez payée une seconde fois. "
        "Ce second paiement de {amount} vous est remboursé en totalité, {where}.",
        "en": "This bill had already been paid: you paid it a second time. "
        "This second payment of {amount} is refunded to you in full, {where}.",
    },
    "not_owed_lead": {
        "fr": "Cette facture avait été annulée\u00a0: vous n'aviez rien à payer. "
        "Ce paiement de {amount} vous est remboursé en totalité, {where}.",
        "en": "This bill had been canceled: you had nothing to pay. "
        "This payment of {amount} is refunded to you in full, {where}.",
    },
    "refund_to_card": {
        "fr": "sur votre carte {brand} se terminant par {last4}",
        "en": "to your {brand} card ending {last4}",
    },
    "refund_to_method": {
        "fr": "par le moyen de paiement que vous avez utilisé",
        "en": "to the means of payment you used",
    },
    "refund_heading": {"fr": "Votre remboursement", "en": "Your refund"},
    "refund_in_progress": {
        "fr": "Le remboursement est en cours. Une fois effectué, la somme apparaît sur votre compte "
        "sous 5 à 10 jours ouvrés, selon votre banque. Vous n'avez rien à faire.",
        "en": "The refund is under way. Once it is made, the money shows on your account "
        "within 5 to 10 business days, depending on your bank. There is nothing you need to do.",
    },
    "refund_done": {
        "fr": "Remboursé le {date}. La somme apparaît sur votre compte sous 5 à 10 jours ouvrés "
        "après cette date, selon votre banque. Vous n'avez rien à faire.",
        "en": "Refunded on {date}. The money shows on your account within 5 to 10 business "
        "days of that date, depending on your bank. There is nothing you need to do.",
    },
    "refund_failed": {
        "fr": "Le remboursement automatique n'a pas abouti. Contactez {issuer}, qui vous "
        "remboursera.",
        "en": "The automatic refund did not go through. Contact {issuer}, who will refund you.",
    },
    "refund_by_service": {
        "fr": "{issuer} va vous rembourser ce paiement. Pour toute question, contactez {issuer}.",
        "en": "{issuer} will refund this payment to you. If you have any question, contact "
        "{issuer}.",
    },
    "amount_paid_twice": {"fr": "Montant payé en trop", "en": "Amount paid in excess"},
    "first_receipt": {
        "fr": "Votre facture reste payée\u00a0: le reçu de votre premier paiement est valable.",
        "en": "Your bill stays paid: the receipt of your first payment stands.",
    },
    "failed_title": {"fr": "Paiement refusé", "en": "Payment declined"},
    "declined_card_declined": {
        "fr": "Votre banque a refusé la carte. Aucune somme n'a été prélevée. Vous pouvez réessayer, "
        "avec une autre carte si besoin.",
        "en": "Your bank declined the card. No money was taken. You can try again, with another card if needed.",
    },
    "declined_insufficient_funds": {
        "fr": "Votre banque a refusé le paiement\u00a0: le solde ou le plafond de la carte est insuffisant. "
        "Aucune somme n'a été prélevée. Vous pouvez réessayer avec une autre carte.",
        "en": "Your bank declined the payment: not enough funds or the card's limit was reached. "
        "No money was taken. You can try again with another card.",
    },
    "declined_other": {
        "fr": "Le paiement n'a pas abouti. Aucune somme n'a été prélevée. Vous pouvez réessayer.",
        "en": "The payment did not go through. No money was taken. You can try again.",
    },
    "try_again": {"fr": "Réessayer de payer {amount}", "en": "Try again to pay {amount}"},
    "too_many_title": {"fr": "Trop de demandes", "en": "Too many requests"},
    "too_many_body": {
        "fr": "Vous avez fait beaucoup de demandes en peu de temps. Réessayez dans {minutes}\u00a0min. Rien n'a été payé ni perdu.",
        "en": "You have made many requests in a short time. Try again in {minutes}\u00a0min. Nothing was paid or lost.",
    },
    "too_many_checkouts_body": {
        "fr": "Ce paiement a été tenté de nombreuses fois. Réessayez dans {minutes}\u00a0min, ou contactez le service.",
        "en": "This payment has been tried many times. Try again in {minutes}\u00a0min, or contact the service.",
    },
    "link_invalid_title": {"fr": "Lien de paiement introuvable", "en": "Payment link not found"},
    "link_invalid_body": {
        "fr": "Ce lien de paiement n'existe pas. Vérifiez l'adresse ou contactez le service qui vous l'a envoyé.",
        "en": "This payment link does not exist. Check the address or contact the service that sent it.",
    },
    "pay_wrong_way_title": {
        "fr": "Cette page ne s'ouvre pas ainsi",
        "en": "This page does not open this way",
    },
    "pay_wrong_way_body": {
        "fr": "Rien n'a été payé. Revenez à la facture pour la voir et la payer.",
        "en": "Nothing was paid. Go back to the bill to see it and pay it.",
    },
    "pay_error_body": {
        "fr": "Rien n'a été prélevé. Réessayez dans quelques minutes.",
        "en": "Nothing was taken. Please try again in a few minutes.",
    },
    "pay_back_to_bill": {"fr": "Revenir à la facture", "en": "Back to the bill"},
    "psp_refused": {
        "fr": "Le service de paiement a refusé d'ouvrir ce paiement. Rien n'a été prélevé. "
        "Réessayer ne changera rien\u00a0: contactez {issuer}.",
        "en": "The payment service refused to open this payment. Nothing was taken. "
        "Trying again will not help: contact {issuer}.",
    },
    "too_late_title": {"fr": "Paiement en ligne impossible", "en": "Online payment not possible"},
    "expires_too_soon": {
        "fr": "Cette facture expire dans moins de {minutes}\u00a0minutes\u00a0: c'est trop tard "
        "pour la payer en ligne. Contactez {issuer}.",
        "en": "This bill expires in less than {minutes} minutes: it is too late to pay it "
        "online. Contact {issuer}.",
    },
    "processing_title": {"fr": "Paiement en cours", "en": "Payment in progress"},
    "processing_body": {
        "fr": "Votre banque traite ce paiement\u00a0; cela peut prendre quelques jours ouvrés. "
        "Vous n'avez rien d'autre à faire\u00a0: ne payez pas une seconde fois.",
        "en": "Your bank is processing this payment, which can take a few working days. "
        "There is nothing else to do: do not pay twice.",
    },
    "psp_down": {
        "fr": "Le service de paiement ne répond pas. Rien n'a été prélevé\u00a0; réessayez dans quelques minutes.",
        "en": "The payment service is not answering. Nothing was taken; please try again in a few minutes.",
    },
    # the simulator's card page
    "sim_title": {"fr": "Simulateur de paiement (test)", "en": "Payment simulator (test)"},
    "sim_banner": {
        "fr": "Mode test\u00a0: aucune carte réelle. Utilisez 4242 4242 4242 4242, une date future et n'importe quel code.",
        "en": "Test mode: no real card. Use 4242 4242 4242 4242, any future date and any code.",
    },
    "sim_pay_to": {"fr": "Paiement à {issuer}", "en": "Payment to {issuer}"},
    "card_number": {"fr": "Numéro de carte", "en": "Card number"},
    "card_number_hint": {
        "fr": "16 chiffres, sur le devant de la carte",
        "en": "16 digits, on the front of the card",
    },
    "expiry": {"fr": "Date d'expiration", "en": "Expiry date"},
    "expiry_hint": {
        "fr": "Mois et année, par exemple 04/29",
        "en": "Month and year, for example 04/29",
    },
    "cvc": {"fr": "Code de sécurité", "en": "Security code"},
    "cvc_hint": {
        "fr": "3 ou 4 chiffres, au dos de la carte (au recto pour American Express)",
        "en": "3 or 4 digits, on the back of the card (on the front for American Express)",
    },
    "card_kept": {
        "fr": "Gardé\u00a0: la carte se terminant par {last4}. Pour une autre carte, effacez-le.",
        "en": "Kept: the card ending {last4}. For another card, clear it.",
    },
    "cvc_again": {
        "fr": "Pour votre sécurité, il n'est pas gardé\u00a0: saisissez-le à nouveau.",
        "en": "For your security, it is not kept: type it again.",
    },
    "error_summary_title": {"fr": "Il y a un problème", "en": "There is a problem"},
    "sim_pay": {"fr": "Payer {amount}", "en": "Pay {amount}"},
    "sim_cancel": {"fr": "Annuler et revenir", "en": "Cancel and go back"},
    "err_invalid_number": {
        "fr": "Le numéro de carte n'est pas valide.",
        "en": "The card number is not valid.",
    },
    "err_invalid_expiry": {
        "fr": "La date d'expiration n'est pas valide ou est passée.",
        "en": "The expiry date is not valid or has passed.",
    },
    "err_invalid_cvc": {
        "fr": "Le code de sécurité a 3 ou 4 chiffres.",
        "en": "The security code has 3 or 4 digits.",
    },
    "err_not_a_test_card": {
        "fr": "Ceci est un simulateur\u00a0: utilisez une carte de test, par exemple 4242 4242 4242 4242.",
        "en": "This is a simulator: use a test card, for example 4242 4242 4242 4242.",
    },
    "err_closed": {
        "fr": "Cette session de paiement est terminée.",
        "en": "This payment session is over.",
    },
    "sim_closed_paid": {
        "fr": "Le paiement a été accepté : la facture est payée. Aucune autre somme ne sera prélevée.",
        "en": "The payment was accepted: the bill is paid. No other money will be taken.",
    },
    "sim_closed_nothing_taken": {
        "fr": "Aucune somme n'a été prélevée sur cette page.",
        "en": "No money was taken on this page.",
    },
    "sim_see_payment": {
        "fr": "Voir le paiement et le reçu",
        "en": "See the payment and the receipt",
    },
    "sim_back_to_bill": {"fr": "Revenir à votre facture", "en": "Back to your bill"},
    "confirm_title": {"fr": "Confirmez le paiement", "en": "Confirm the payment"},
    "confirm_body": {
        "fr": "Votre banque vous demande de confirmer ce paiement de {amount} (étape simulée).",
        "en": "Your bank asks you to confirm this payment of {amount} (simulated step).",
    },
    "confirm_yes": {"fr": "Confirmer", "en": "Confirm"},
    "confirm_no": {"fr": "Refuser", "en": "Refuse"},
    "error_title": {"fr": "Une erreur est survenue", "en": "Something went wrong"},
    "error_prefix": {"fr": "Erreur\u00a0: ", "en": "Error: "},
}


def translate_in(
    table: Mapping[str, Mapping[str, str]], key: str, lang: str, **kwargs: object
) -> str:
    """The ``lang`` text of ``key`` in ``table`` (French when missing), formatted."""
    entry = table.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**kwargs) if kwargs else text


def translate(key: str, lang: str, **kwargs: object) -> str:
    """A string of the citizen pages."""
    return translate_in(STRINGS, key, lang, **kwargs)


def negotiate(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    """``?lang=`` wins, then the cookie set by the switch, then ``Accept-Language``."""
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGS:
            return str(candidate)
    best: tuple[float, str] | None = None
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])  # a quality weight, not money
            except ValueError:
                q = 0.0
        if best is None or q > best[0]:
            best = (q, primary)
    return best[1] if best else DEFAULT_LANG


# ---------------------------------------------------------------- days in words
_MONTHS = {
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre".split(),
    "en": "January February March April May June July August September October November December".split(),
}


def _day(day: int, lang: str) -> str:
    """A day of the month as written before its month: in French the first is ``1er``
    (« le 1er décembre »), as French writes it."""
    return "1er" if day == 1 and lang != "en" else str(day)


def format_date(
    value: dt.datetime | str,
    lang: str = "fr",
    tz: str = "Europe/Paris",
    with_time: bool = False,
    seconds: bool = False,
) -> str:
    """A day, with its time when asked (to the second with ``seconds``: what tells apart
    two runs made in one minute). An instant stored as ISO 8601 text (with its offset) is
    read first."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    local = value.astimezone(ZoneInfo(tz))
    text = format_day(local.date(), lang)
    if with_time:
        clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
        text += f", {clock}" if lang == "en" else f" à {clock}"
    return text


def format_day(day: dt.date, lang: str = "fr") -> str:
    """A day in words: ``25 novembre 2026`` / ``25 November 2026`` (``1er décembre 2026`` /
    ``1 December 2026``), as the pages, the run's report and its summary write one."""
    return f"{_day(day.day, lang)} {_MONTHS.get(lang, _MONTHS['fr'])[day.month - 1]} {day.year}"


def format_iso_date(value: str, lang: str = "fr") -> str:
    """``2026-11-25`` -> ``25 novembre 2026`` / ``25 November 2026`` (``1er décembre
    2026`` / ``1 December 2026``)."""
    return format_day(dt.date.fromisoformat(value), lang)
