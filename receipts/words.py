"""Every word a receipt or a credit note prints, in French and English, and how fields read.

One catalog, ``WORDS``: message key -> {language -> text}, for the PDF (``receipts.render``),
the HTML receipt and verification pages (``receipts/templates``, through ``rt``) and the
notes of the Factur-X XML (``receipts.facturx_xml``). ``word`` looks a key up and fills its
``{placeholders}``. Pure: no I/O.

French puts a no-break space (\\u00a0) before ":" and after "n°" on the PDF.
"""

from __future__ import annotations

from typing import Final

from receipts.document import ReceiptDocument
from regie.kit.i18n import format_day, translate_in

WORDS: Final[dict[str, dict[str, str]]] = {
    # --- shared by the PDF and the HTML pages ---------------------------------------------
    "payer": {"fr": "Payé par", "en": "Paid by"},
    "payment_method": {"fr": "Moyen de paiement", "en": "Payment method"},
    "invoice_reference": {"fr": "Référence", "en": "Reference"},
    "description": {"fr": "Désignation", "en": "Description"},
    "quantity": {"fr": "Qté", "en": "Qty"},
    "unit_amount": {"fr": "Prix unitaire", "en": "Unit price"},
    "amount": {"fr": "Montant", "en": "Amount"},
    "total_receipt": {"fr": "Total payé", "en": "Total paid"},
    "verify_receipt": {"fr": "Vérifier ce reçu", "en": "Check this receipt"},
    # --- the PDF ----------------------------------------------------------------------------
    "title_receipt": {"fr": "Reçu de paiement", "en": "Payment receipt"},
    "title_credit_note": {"fr": "Avoir", "en": "Credit note"},
    "number": {"fr": "N°\u00a0{number}", "en": "No. {number}"},
    "credit_note_for": {
        "fr": "Relatif au reçu n°\u00a0{number}",
        "en": "For receipt no. {number}",
    },
    "paid_at": {"fr": "Date du paiement", "en": "Payment date"},
    "refunded_at": {"fr": "Date du remboursement", "en": "Refund date"},
    "at": {"fr": "{date} à {time}", "en": "{date} at {time}"},
    "refunded_to": {"fr": "Remboursé à", "en": "Refunded to"},
    "invoice_number": {"fr": "Numéro de facture", "en": "Invoice number"},
    "card": {"fr": "Carte", "en": "Card"},
    "bank_card": {"fr": "Carte bancaire", "en": "Bank card"},
    "transaction_reference": {"fr": "Référence de la transaction", "en": "Transaction reference"},
    "total_credit_note": {"fr": "Total remboursé", "en": "Total refunded"},
    "currency": {"fr": "Devise\u00a0: {currency}", "en": "Currency: {currency}"},
    "statement_receipt": {
        "fr": "Ce reçu atteste le paiement de la facture n°\u00a0{invoice}.",
        "en": "This receipt confirms the payment of invoice no. {invoice}.",
    },
    "statement_credit_note": {
        "fr": "Cet avoir atteste le remboursement d'un paiement de la facture n°\u00a0{invoice}.",
        "en": "This credit note confirms a refund of a payment of invoice no. {invoice}.",
    },
    "verify_credit_note": {"fr": "Vérifier cet avoir", "en": "Check this credit note"},
    "in_words": {"fr": "Soit en toutes lettres\u00a0: {words}.", "en": "In words: {words}."},
    "vat_mention": {
        "fr": "TVA non applicable, art. {article} du CGI.",
        "en": "VAT not applicable, art. {article} of the French General Tax Code (CGI).",
    },
    "contact_email": {"fr": "Courriel\u00a0: {email}", "en": "Email: {email}"},
    "contact_phone": {"fr": "Tél.\u00a0: {phone}", "en": "Phone: {phone}"},
    "contact_hours": {"fr": "Horaires\u00a0: {hours}", "en": "Opening hours: {hours}"},
    "refund_reason": {
        "fr": "Motif du remboursement\u00a0: {reason}",
        "en": "Reason for the refund: {reason}",
    },
    "remaining_amount": {
        "fr": "Reste payé sur la facture après cet avoir\u00a0: {amount}.",
        "en": "Still paid on the bill after this credit note: {amount}.",
    },
    "verify_help": {
        "fr": "Scannez le code QR ou saisissez l'adresse imprimée sous le code "
        "pour vérifier que ce document est authentique.",
        "en": "Scan the QR code or type the address printed under it "
        "to check that this document is genuine.",
    },
    "page": {"fr": "Page {page}/{pages}", "en": "Page {page} of {pages}"},
    "continued": {"fr": "(suite)", "en": "(continued)"},
    # --- the HTML receipt page (receipt.html) -----------------------------------------------
    "title_receipt_numbered": {
        "fr": "Reçu de paiement n°\u00a0{number}",
        "en": "Payment receipt no.\u00a0{number}",
    },
    "issuer": {"fr": "Émis par", "en": "Issued by"},
    "paid_on": {"fr": "Payé le", "en": "Paid on"},
    "invoice": {"fr": "Facture", "en": "Bill"},
    "card_ending": {
        "fr": "carte {brand} se terminant par {last4}",
        "en": "{brand} card ending {last4}",
    },
    "payment_reference": {"fr": "Référence du paiement", "en": "Payment reference"},
    "download_pdf": {"fr": "Télécharger le reçu (PDF)", "en": "Download the receipt (PDF)"},
    "refunds_title": {"fr": "Remboursements", "en": "Refunds"},
    "refund_date": {"fr": "Date", "en": "Date"},
    "refund_reason_label": {"fr": "Motif", "en": "Reason"},
    "credit_note": {"fr": "Avoir", "en": "Credit note"},
    "credit_note_link": {"fr": "{number} (PDF)", "en": "{number} (PDF)"},
    "credit_note_canceled": {
        "fr": "annulé\u00a0: le remboursement a échoué",
        "en": "cancelled: the refund failed",
    },
    # --- the verification page (verify.html) ------------------------------------------------
    "verify_title": {"fr": "Vérification d'un reçu", "en": "Receipt check"},
    "verify_title_credit_note": {"fr": "Vérification d'un avoir", "en": "Credit note check"},
    "status_genuine": {"fr": "Ce reçu est authentique.", "en": "This receipt is genuine."},
    "status_genuine_credit_note": {
        "fr": "Cet avoir est authentique.",
        "en": "This credit note is genuine.",
    },
    "status_disputed": {
        "fr": "Ce reçu a bien été émis, mais le paiement est contesté\u00a0: la banque du payeur "
        "en a retiré les fonds. Il ne prouve pas le paiement tant que la contestation "
        "n'est pas close.",
        "en": "This receipt was issued, but the payment is disputed: the payer's bank has "
        "withdrawn the funds. It is no proof of payment until the dispute is closed.",
    },
    "status_refunded": {
        "fr": "Ce reçu est authentique, mais le paiement a été remboursé.",
        "en": "This receipt is genuine, but the payment was refunded.",
    },
    "status_partially_refunded": {
        "fr": "Ce reçu est authentique\u00a0; le paiement a été remboursé en partie.",
        "en": "This receipt is genuine; part of the payment was refunded.",
    },
    "status_canceled": {
        "fr": "Cet avoir est authentique, mais il est annulé\u00a0: le remboursement a échoué "
        "et la somme n'a pas été rendue.",
        "en": "This credit note is genuine, but it is cancelled: the refund failed and the "
        "money was not given back.",
    },
    "status_unknown": {
        "fr": "Aucun reçu ne correspond à ce numéro et à ce code. "
        "Vérifiez-les, ou contactez l'organisme émetteur.",
        "en": "No receipt matches this number and code. Check them, or contact the issuing body.",
    },
    "verify_malformed": {
        "fr": "Ce lien de vérification est mal formé\u00a0: son code est plus long que ceux "
        "imprimés sur les reçus et les avoirs. Recopiez-le tel qu'il est imprimé, ou "
        "contactez l'organisme émetteur.",
        "en": "This verification link is malformed: its code is longer than those printed on "
        "receipts and credit notes. Copy it as printed, or contact the issuing body.",
    },
    "document_number": {"fr": "Numéro", "en": "Number"},
    "kind_receipt": {"fr": "Reçu", "en": "Receipt"},
    "kind_credit_note": {"fr": "Avoir", "en": "Credit note"},
    "date": {"fr": "Date", "en": "Date"},
    # --- the notes of the Factur-X XML (receipts.facturx_xml) -------------------------------
    "facturx_paid": {
        "fr": "Facture acquittée le {date} ({card}), transaction {psp}. Reçu n° {number}.",
        "en": "Invoice paid on {date} ({card}), transaction {psp}. Receipt no. {number}.",
    },
    "facturx_refunded": {
        "fr": "Avoir n° {number} : remboursement le {date} ({card}), "
        "transaction {psp}, relatif au reçu n° {receipt} de la facture n° {invoice}.",
        "en": "Credit note no. {number}: refunded on {date} ({card}), "
        "transaction {psp}, for receipt no. {receipt} of invoice no. {invoice}.",
    },
    "facturx_reference": {"fr": "Référence : {reference}", "en": "Reference: {reference}"},
    "vat_exemption_reason": {
        "fr": "TVA non applicable, article 256 B du CGI (activité de service public)",
        "en": "Not subject to VAT: public service activity "
        "(article 256 B of the French General Tax Code)",
    },
}


def word(key: str, lang: str, **kwargs: object) -> str:
    """The ``lang`` text of ``key`` (French when missing), its placeholders filled."""
    return translate_in(WORDS, key, lang, **kwargs)


# ---------------------------------------------------------------------------------------
# How fields read

CARD_BRANDS: Final = {
    "visa": "VISA",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "cb": "CB",
    "cartes_bancaires": "CB",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "maestro": "Maestro",
}


def payment_method(doc: ReceiptDocument) -> str:
    """``VISA •••• 4242``: the brand and the last four digits, never more."""
    brand = (
        CARD_BRANDS.get(doc.card_brand.strip().lower(), doc.card_brand.strip().upper())
        if doc.card_brand and doc.card_brand.strip()
        else None
    )
    if doc.card_last4 is None:
        return brand or word("bank_card", doc.language)
    return f"{brand or word('card', doc.language)} •••• {doc.card_last4}"


def payment_time(doc: ReceiptDocument) -> str:
    """``14 mars 2026 à 10:32 (Europe/Paris)``, on the issuer's wall clock; the day as the
    receipt page, the finance workspace and the run's report write one
    (``regie.kit.i18n.format_day``): the first of the month is ``1er octobre 2026`` in
    French, ``1 October 2026`` in English."""
    local = doc.local_paid_at
    day = format_day(local.date(), doc.language)
    when = word("at", doc.language, date=day, time=f"{local:%H:%M}")
    return f"{when} ({doc.issuer_timezone})"


def contact_lines(doc: ReceiptDocument, lang: str | None = None) -> list[str]:
    """How to reach the issuer, one line each: ``Courriel : …``, ``Tél. : …``,
    ``Horaires : …`` (in ``lang``, the document's language by default)."""
    lang = lang or doc.language
    lines = []
    if doc.issuer_email:
        lines.append(word("contact_email", lang, email=doc.issuer_email))
    if doc.issuer_phone:
        lines.append(word("contact_phone", lang, phone=doc.issuer_phone))
    if doc.issuer_hours:
        lines.append(word("contact_hours", lang, hours=doc.issuer_hours))
    return lines


def issuer_identifier(identifier: str) -> str:
    """Name the French identifiers (14 digits: SIRET, 9: SIREN); leave others as given."""
    digits = identifier.replace(" ", "").replace("\u00a0", "")
    if digits.isascii() and digits.isdigit():
        if len(digits) == 14:
            return f"SIRET {digits[0:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"
        if len(digits) == 9:
            return f"SIREN {digits[0:3]} {digits[3:6]} {digits[6:]}"
    return identifier
