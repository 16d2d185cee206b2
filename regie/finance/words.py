"""The finance workspace's words, in French and English. Pure.

The shell's pages (sign-in, dashboard, ledger, invoices) are here; reconciliation's (runs,
discrepancies, suggestions, statements) in ``words_recon``; ``WORDS`` is both.

Templates call ``ft('key', **values)`` (the page's language is bound); Python calls
``word('key', lang, **values)``. French puts a no-break space (\u00a0) before ":" and ";".
"""

from __future__ import annotations

from reconciliation.report_words import LABELS
from regie.finance.words_recon import RECON_WORDS
from regie.kit.i18n import translate_in

_SHELL_WORDS: dict[str, dict[str, str]] = {
    "workspace": {"fr": "Espace finances", "en": "Finance workspace"},
    "nav_label": {"fr": "Espace finances", "en": "Finance workspace"},
    "nav_dashboard": {"fr": "Tableau de bord", "en": "Dashboard"},
    "nav_ledger": {"fr": "Grand livre", "en": "Ledger"},
    "nav_invoices": {"fr": "Factures", "en": "Invoices"},
    "signed_in_as": {"fr": "Connecté\u00a0: {service}", "en": "Signed in: {service}"},
    "logout": {"fr": "Se déconnecter", "en": "Sign out"},
    "error_prefix": {"fr": "Erreur\u00a0: ", "en": "Error: "},
    # login
    "login_title": {
        "fr": "Connexion à l'espace finances",
        "en": "Sign in to the finance workspace",
    },
    "login_lead": {
        "fr": "Saisissez la clé d'API «\u00a0finance\u00a0» que l'administrateur de regie vous a remise.",
        "en": "Enter the finance API key that regie's administrator gave you.",
    },
    "api_key": {"fr": "Clé d'API finance", "en": "Finance API key"},
    "api_key_hint": {
        "fr": "Elle commence par rk_live_fin_ (rk_test_fin_ hors production).",
        "en": "It starts with rk_live_fin_ (rk_test_fin_ outside production).",
    },
    "login": {"fr": "Se connecter", "en": "Sign in"},
    "login_note": {
        "fr": "La clé n'est pas conservée dans votre navigateur\u00a0: la session dure {idle} "
        "sans activité, {most} au plus.",
        "en": "The key is not kept in your browser: the session lasts {idle} without "
        "activity, {most} at most.",
    },
    "hours_one": {"fr": "1 heure", "en": "1 hour"},
    "hours_many": {"fr": "{n} heures", "en": "{n} hours"},
    "minutes_one": {"fr": "1 minute", "en": "1 minute"},
    "minutes_many": {"fr": "{n} minutes", "en": "{n} minutes"},
    "err_key_invalid": {
        "fr": "Cette clé est inconnue ou a été révoquée.",
        "en": "This key is unknown or has been revoked.",
    },
    "err_key_test": {
        "fr": "Les clés de test (rk_test_…) sont refusées en production.",
        "en": "Test keys (rk_test_…) are refused in production.",
    },
    "err_key_role": {
        "fr": "Cette clé est une clé {role}\u00a0: l'espace finances demande une clé finance.",
        "en": "This is a {role} key: the finance workspace needs a finance key.",
    },
    "role_service": {"fr": "de service", "en": "service"},
    "role_admin": {"fr": "d'administration", "en": "admin"},
    "notice_expired": {
        "fr": "Votre session a expiré. Reconnectez-vous.",
        "en": "Your session has expired. Please sign in again.",
    },
    "notice_revoked": {
        "fr": "Votre clé a été révoquée ou n'est plus une clé finance\u00a0: vous avez été déconnecté.",
        "en": "Your key was revoked or is no longer a finance key: you have been signed out.",
    },
    "notice_logged_out": {"fr": "Vous êtes déconnecté.", "en": "You are signed out."},
    "csrf_title": {"fr": "Formulaire refusé", "en": "Form refused"},
    "csrf_body": {
        "fr": "Ce formulaire a expiré ou ne vient pas de cette page. Rien n'a été modifié. "
        "Rechargez la page et recommencez.",
        "en": "This form has expired or did not come from this page. Nothing was changed. "
        "Reload the page and try again.",
    },
    "back_to_login": {"fr": "Retour à la connexion", "en": "Back to sign-in"},
    "back_to_form": {"fr": "Revenir à la page", "en": "Back to the page"},
    # a link from another site: the page goes on to the sign-in from this site
    "bounce_body": {
        "fr": "Vous arrivez d'un autre site : la page continue vers l'espace finances.",
        "en": "You are coming from another site: the page goes on to the finance workspace.",
    },
    "bounce_link": {"fr": "Continuer", "en": "Continue"},
    "back_to_dashboard": {"fr": "Retour au tableau de bord", "en": "Back to the dashboard"},
    "err_page_too_large_title": {"fr": "Fichier trop volumineux", "en": "File too large"},
    "err_page_too_large_body": {
        "fr": "Ce que vous avez envoyé dépasse la taille acceptée ({limit})\u00a0: rien n'a été "
        "enregistré. Envoyez un fichier plus petit (un relevé par période, par exemple).",
        "en": "What you sent is larger than accepted ({limit}): nothing was stored. Send a "
        "smaller file (a statement per period, for example).",
    },
    "err_page_too_large_file_body": {
        "fr": "{name} dépasse la taille acceptée ({limit})\u00a0: rien n'a été enregistré. "
        "Envoyez un fichier plus petit (un relevé par période, par exemple).",
        "en": "{name} is larger than accepted ({limit}): nothing was stored. Send a smaller "
        "file (a statement per period, for example).",
    },
    "err_page_not_found_title": {"fr": "Page introuvable", "en": "Page not found"},
    "err_page_not_found_body": {
        "fr": "Cette adresse ne correspond à aucune page de l'espace finances.",
        "en": "This address is no page of the finance workspace.",
    },
    "err_page_internal_title": {
        "fr": "Une erreur s'est produite de notre côté",
        "en": "Something went wrong on our side",
    },
    "err_page_internal_body": {
        "fr": "Rien n'a été perdu. Réessayez dans un instant\u00a0; si cela se reproduit, "
        "prévenez l'administrateur de regie.",
        "en": "Nothing was lost. Try again in a moment; if it happens again, tell regie's "
        "administrator.",
    },
    "err_page_unavailable_title": {
        "fr": "Service momentanément indisponible",
        "en": "Service unavailable for a moment",
    },
    "err_page_unavailable_body": {
        "fr": "La base de données ne répond pas\u00a0; réessayez dans un instant.",
        "en": "The database does not answer; try again in a moment.",
    },
    "err_page_refused_title": {"fr": "Requête refusée", "en": "Request refused"},
    "err_page_malformed_title": {"fr": "Formulaire illisible", "en": "Form could not be read"},
    "err_page_malformed_body": {
        "fr": "Le formulaire n'a pas pu être lu (il n'a sans doute pas été envoyé depuis la "
        "page, ou l'envoi a été interrompu)\u00a0: rien n'a été enregistré. Rechargez la page "
        "et envoyez-le à nouveau.",
        "en": "The form could not be read (it was probably not sent from the page, or the "
        "sending was cut short): nothing was stored. Reload the page and send it again.",
    },
    "err_page_method_title": {
        "fr": "Cette adresse ne s'ouvre pas ainsi",
        "en": "Not this way",
    },
    "err_page_method_body": {
        "fr": "Rien n'a été fait. Certaines actions (la déconnexion, par exemple) passent "
        "par leur bouton, pas par un lien ni une adresse saisie\u00a0: passez par les liens "
        "et les boutons de l'espace.",
        "en": "Nothing was done. Some actions (signing out, for one) go through their "
        "button, not a link or a typed address: go through the workspace's links and "
        "buttons.",
    },
    "err_page_refused_body": {"fr": "{reason}", "en": "{reason}"},
    "err_page_date_title": {"fr": "Date hors limites", "en": "Date out of range"},
    "err_page_date_body": {
        "fr": "Cette date est hors des jours que regie sait compter (du 2 janvier 0001 au "
        "30 décembre 9999)\u00a0: rien n'a été fait. Choisissez un autre jour.",
        "en": "This date is outside the days regie can count (2 January 0001 to "
        "30 December 9999): nothing was done. Choose another day.",
    },
    "err_page_parts_title": {"fr": "Formulaire refusé", "en": "Form refused"},
    "err_page_parts_body": {
        "fr": "Le formulaire envoyé a plus de parties que les pages de l'espace n'en envoient "
        "(un fichier et dix champs au plus) : rien n'a été enregistré. Envoyez-le depuis "
        "la page.",
        "en": "The form sent has more parts than the workspace's pages send (one file and ten "
        "fields at most): nothing was stored. Send it from the page.",
    },
    "err_page_nul_title": {"fr": "Caractère refusé", "en": "Character refused"},
    "err_page_nul_body": {
        "fr": "Le formulaire ou l'adresse contient un caractère nul (U+0000), que regie "
        "refuse\u00a0; rien n'a été enregistré. Retirez-le (il vient souvent d'un copier-coller) "
        "et envoyez à nouveau.",
        "en": "The form or the address holds a NUL character (U+0000), which regie refuses; "
        "nothing was recorded. Remove it (it often comes from a copy and paste) and send "
        "again.",
    },
    # dashboard
    "dashboard_title": {"fr": "Tableau de bord", "en": "Dashboard"},
    "dashboard_lead": {"fr": "Situation au {when}.", "en": "As of {when}."},
    "clearing_title": {"fr": "Comptes d'attente du prestataire", "en": "PSP clearing accounts"},
    "clearing_note": {
        "fr": "L'argent encaissé par le prestataire de paiement et pas encore versé à la banque.",
        "en": "Money the payment provider collected and has not paid out to the bank yet.",
    },
    "clearing_caption": {"fr": "Soldes des comptes d'attente", "en": "Clearing balances"},
    "bank_title": {"fr": "Banque", "en": "Bank"},
    "bank_note": {
        "fr": "Les versements du prestataire reçus sur le compte bancaire, selon le grand livre.",
        "en": "The provider's payouts received on the bank account, according to the ledger.",
    },
    "bank_caption": {"fr": "Soldes bancaires", "en": "Bank balances"},
    "no_balance": {"fr": "Aucune écriture pour l'instant.", "en": "No entries yet."},
    "open_discrepancies_title": {"fr": "Écarts ouverts", "en": "Open discrepancies"},
    "last_runs_title": {"fr": "Derniers rapprochements", "en": "Last reconciliation runs"},
    "see_all_balances": {
        "fr": "Voir les soldes de tous les comptes",
        "en": "See every account's balance",
    },
    # ledger
    "ledger_title": {"fr": "Soldes du grand livre", "en": "Ledger balances"},
    "ledger_lead": {
        "fr": "Le solde de chaque compte à la fin d'une journée (heure de Paris).",
        "en": "Each account's balance at the end of a day (Paris time).",
    },
    "ledger_at": {"fr": "Soldes à la fin du", "en": "Balances at the end of"},
    "date_hint": {
        "fr": "AAAA-MM-JJ, par exemple 2026-10-31",
        "en": "YYYY-MM-DD, for example 2026-10-31",
    },
    "show": {"fr": "Afficher", "en": "Show"},
    "ledger_caption": {"fr": "Soldes au {day} au soir", "en": "Balances at the end of {day}"},
    # a day not over yet (today, or one to come): what the table holds is now
    # the day asked for is no date: the table holds the balances of now (the field says why)
    "ledger_caption_now_plain": {"fr": "Soldes à cet instant", "en": "Balances as of now"},
    "ledger_caption_now": {
        "fr": "Soldes à cet instant (demandés au {day})",
        "en": "Balances as of now (asked for {day})",
    },
    "ledger_future": {
        "fr": "Le {day} est dans le futur\u00a0: ce sont les soldes de cet instant, sans les "
        "écritures encore à venir.",
        "en": "{day} is in the future: these are the balances as of now, without the entries "
        "still to come.",
    },
    "ledger_today": {
        "fr": "La journée du {day} n'est pas terminée\u00a0: ce sont les soldes de cet instant.",
        "en": "{day} is not over yet: these are the balances as of now.",
    },
    "ledger_empty": {"fr": "Aucune écriture au {day}.", "en": "No entries by {day}."},
    "natural_sign_note": {
        "fr": "Chaque solde a le signe naturel de son compte\u00a0: un actif ou une charge est "
        "positif au débit, un produit ou une dette est positif au crédit.",
        "en": "Each balance has its account's natural sign: an asset or expense is positive "
        "when in debit, an income or liability when in credit.",
    },
    "trial_title": {"fr": "Balance", "en": "Trial balance"},
    "trial_ok": {
        "fr": "{currency}\u00a0: débits = crédits = {amount}",
        "en": "{currency}: debits = credits = {amount}",
    },
    "trial_bad": {
        "fr": "{currency}\u00a0: débits {debit} ≠ crédits {credit}",
        "en": "{currency}: debits {debit} ≠ credits {credit}",
    },
    "col_account": {"fr": "Compte", "en": "Account"},
    "col_type": {"fr": "Type", "en": "Type"},
    "col_pcg": {"fr": "Compte PCG", "en": "PCG account"},
    "col_currency": {"fr": "Devise", "en": "Currency"},
    "col_debit": {"fr": "Débits", "en": "Debits"},
    "col_credit": {"fr": "Crédits", "en": "Credits"},
    "col_balance": {"fr": "Solde", "en": "Balance"},
    "type_asset": {"fr": "Actif", "en": "Asset"},
    "type_liability": {"fr": "Dette", "en": "Liability"},
    "type_income": {"fr": "Produit", "en": "Income"},
    "type_expense": {"fr": "Charge", "en": "Expense"},
    "type_other": {"fr": "Autre", "en": "Other"},
    "err_no_such_day": {
        "fr": "Ce jour n'existe pas dans le calendrier (le 30 février, un mois 13…)\u00a0: "
        "vérifiez le jour et le mois.",
        "en": "This day does not exist in the calendar (30 February, a month 13…): check "
        "the day and the month.",
    },
    "err_date": {
        "fr": "Ce n'est pas une date au format AAAA-MM-JJ.",
        "en": "This is not a date as YYYY-MM-DD.",
    },
    # invoices
    "invoices_title": {"fr": "Factures", "en": "Invoices"},
    "invoices_lead": {
        "fr": "Les factures de tous les services, les plus récentes d'abord.",
        "en": "Every service's invoices, newest first.",
    },
    "search_title": {"fr": "Rechercher", "en": "Search"},
    "search_text": {"fr": "Texte", "en": "Text"},
    "search_text_hint": {
        "fr": "Numéro, référence, nom du payeur ou objet",
        "en": "Number, reference, payer's name or description",
    },
    "any_status": {"fr": "Tous", "en": "Any"},
    "any_service": {"fr": "Tous", "en": "Any"},
    "created_from": {"fr": "Créées à partir du", "en": "Created from"},
    "created_to": {"fr": "Créées jusqu'au", "en": "Created until"},
    # the filters' days are Paris days (forms.start_of/end_of), the CSV's times UTC
    "created_days": {
        "fr": "Les jours de création sont des jours de Paris, comme sur la page du grand "
        "livre et dans le FEC\u00a0: une facture créée à 0\u00a0h\u00a030 à Paris le 1er "
        "compte pour le 1er. Les heures du CSV sont en UTC (23\u00a0h\u00a030 la veille, "
        "en hiver).",
        "en": "Creation days are Paris days, as on the ledger page and in the FEC: an "
        "invoice created at 00:30 in Paris on the 1st counts on the 1st. The CSV's times are "
        "UTC (23:30 the day before, in winter).",
    },
    "search": {"fr": "Rechercher", "en": "Search"},
    "clear_filters": {"fr": "Effacer les filtres", "en": "Clear the filters"},
    "invoices_found": {"fr": "Factures trouvées\u00a0: {count}", "en": "Invoices found: {count}"},
    "download_csv": {"fr": "Télécharger en CSV", "en": "Download as CSV"},
    "invoices_caption": {
        "fr": "Factures, page {page} sur {pages}",
        "en": "Invoices, page {page} of {pages}",
    },
    "pagination": {"fr": "Pages de résultats", "en": "Result pages"},
    "previous_page": {"fr": "Page précédente", "en": "Previous page"},
    "next_page": {"fr": "Page suivante", "en": "Next page"},
    "page_of": {"fr": "Page {page} sur {pages}", "en": "Page {page} of {pages}"},
    "col_number": {"fr": "Numéro", "en": "Number"},
    "col_service": {"fr": "Service", "en": "Service"},
    "col_payer": {"fr": "Payeur", "en": "Payer"},
    "col_description": {"fr": "Objet", "en": "Description"},
    "col_status": {"fr": "Statut", "en": "Status"},
    "col_amount": {"fr": "Montant", "en": "Amount"},
    "col_paid": {"fr": "Payé", "en": "Paid"},
    "col_refunded": {"fr": "Remboursé", "en": "Refunded"},
    "col_created": {"fr": "Créée le", "en": "Created"},
    "status_open": {"fr": "À payer", "en": "Open"},
    "status_paid": {"fr": "Payée", "en": "Paid"},
    "status_partially_refunded": {"fr": "Remboursée en partie", "en": "Partly refunded"},
    "status_refunded": {"fr": "Remboursée", "en": "Refunded"},
    "status_canceled": {"fr": "Annulée", "en": "Canceled"},
    "status_expired": {"fr": "Expirée", "en": "Expired"},
    "status_disputed": {"fr": "Contestée", "en": "Disputed"},
    "err_status": {"fr": "Ce statut n'existe pas.", "en": "There is no such status."},
    "err_service": {"fr": "Ce service n'existe pas.", "en": "There is no such service."},
    "err_date_order": {
        "fr": "Cette date est avant la date de début.",
        "en": "This date is before the start date.",
    },
}


def _merged(*parts: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """One catalogue of several; a key in two of them is a mistake (one would hide the
    other)."""
    merged: dict[str, dict[str, str]] = {}
    for part in parts:
        twice = merged.keys() & part.keys()
        if twice:
            raise ValueError(f"words defined twice: {sorted(twice)}")
        merged.update(part)
    return merged


WORDS = _merged(_SHELL_WORDS, RECON_WORDS, LABELS)


def word(key: str, lang: str, **values: object) -> str:
    return translate_in(WORDS, key, lang, **values)


def duration(minutes: int, lang: str) -> str:
    """``480`` -> ``8 heures`` / ``8 hours``; ``90`` -> ``90 minutes``."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return word("hours_one", lang) if hours == 1 else word("hours_many", lang, n=hours)
    return word("minutes_one", lang) if minutes == 1 else word("minutes_many", lang, n=minutes)
