"""French and English words of the receipt pages (the PDF has its own in receipts.render)."""

from __future__ import annotations

from regie.kit.i18n import translate_in

STRINGS: dict[str, dict[str, str]] = {
    "receipt_title": {"fr": "Reçu de paiement n° {number}", "en": "Payment receipt no. {number}"},
    "issuer": {"fr": "Émis par", "en": "Issued by"},
    "paid_on": {"fr": "Payé le", "en": "Paid on"},
    "payer": {"fr": "Payé par", "en": "Paid by"},
    "invoice": {"fr": "Facture", "en": "Bill"},
    "reference": {"fr": "Référence", "en": "Reference"},
    "method": {"fr": "Moyen de paiement", "en": "Payment method"},
    "card_ending": {
        "fr": "carte {brand} se terminant par {last4}",
        "en": "{brand} card ending {last4}",
    },
    "psp_ref": {"fr": "Référence du paiement", "en": "Payment reference"},
    "total": {"fr": "Total payé", "en": "Total paid"},
    "description": {"fr": "Désignation", "en": "Description"},
    "qty": {"fr": "Qté", "en": "Qty"},
    "unit": {"fr": "Prix unitaire", "en": "Unit price"},
    "amount": {"fr": "Montant", "en": "Amount"},
    "download_pdf": {"fr": "Télécharger le reçu (PDF)", "en": "Download the receipt (PDF)"},
    "check_it": {"fr": "Vérifier ce reçu", "en": "Check this receipt"},
    "verify_title": {"fr": "Vérification d'un reçu", "en": "Receipt check"},
    "verify_genuine": {"fr": "Ce reçu est authentique.", "en": "This receipt is genuine."},
    "verify_refunded": {
        "fr": "Ce reçu est authentique, mais le paiement a été remboursé.",
        "en": "This receipt is genuine, but the payment was refunded.",
    },
    "verify_partially_refunded": {
        "fr": "Ce reçu est authentique ; le paiement a été remboursé en partie.",
        "en": "This receipt is genuine; part of the payment was refunded.",
    },
    "verify_unknown": {
        "fr": "Aucun reçu ne correspond à ce numéro et à ce code. Vérifiez-les, ou contactez l'organisme émetteur.",
        "en": "No receipt matches this number and code. Check them, or contact the issuing body.",
    },
    "number": {"fr": "Numéro", "en": "Number"},
    "kind_receipt": {"fr": "Reçu", "en": "Receipt"},
    "kind_credit_note": {"fr": "Avoir", "en": "Credit note"},
    "date": {"fr": "Date", "en": "Date"},
}


def rt(key: str, lang: str, **kwargs: object) -> str:
    return translate_in(STRINGS, key, lang, **kwargs)
