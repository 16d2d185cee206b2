"""The finance workspace's words, in French and English. Pure.

Templates call ``ft('key', **values)`` (the page's language is bound); Python calls
``word('key', lang, **values)``. French puts a no-break space (\u00a0) before ":" and ";".
"""

from __future__ import annotations

from regie.kit.i18n import translate_in

WORDS: dict[str, dict[str, str]] = {
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
    "back_to_dashboard": {"fr": "Retour au tableau de bord", "en": "Back to the dashboard"},
    "err_page_too_large_title": {"fr": "Fichier trop volumineux", "en": "File too large"},
    "err_page_too_large_body": {
        "fr": "Ce que vous avez envoyé dépasse la taille acceptée ({limit})\u00a0: rien n'a été "
        "enregistré. Envoyez un fichier plus petit (un relevé par période, par exemple).",
        "en": "What you sent is larger than accepted ({limit}): nothing was stored. Send a "
        "smaller file (a statement per period, for example).",
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
    "err_page_refused_body": {"fr": "{reason}", "en": "{reason}"},
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
    # reconciliation runs
    "nav_runs": {"fr": "Rapprochements", "en": "Reconciliations"},
    "nav_statements": {"fr": "Relevés bancaires", "en": "Bank statements"},
    "runs_title": {"fr": "Rapprochements", "en": "Reconciliations"},
    "runs_lead": {
        "fr": "Chaque rapprochement compare, sur une période, les lignes du prestataire de "
        "paiement, le grand livre et les relevés bancaires importés.",
        "en": "Each run compares, over a period, the payment provider's lines, the ledger "
        "and the imported bank statements.",
    },
    "start_run_title": {"fr": "Lancer un rapprochement", "en": "Start a reconciliation"},
    "period_from": {"fr": "Du", "en": "From"},
    "period_to": {"fr": "Au (inclus)", "en": "To (included)"},
    "stripe_csv": {
        "fr": "Rapport Stripe des virements détaillés (CSV, facultatif)",
        "en": "Stripe itemised payout reconciliation report (CSV, optional)",
    },
    "stripe_csv_hint": {
        "fr": "Sans fichier, regie lit les lignes du prestataire directement.",
        "en": "Without a file, regie reads the provider's lines directly.",
    },
    "start_run": {"fr": "Lancer le rapprochement", "en": "Start the reconciliation"},
    "no_runs": {"fr": "Aucun rapprochement pour l'instant.", "en": "No reconciliation yet."},
    "runs_caption": {
        "fr": "Rapprochements, du plus récent",
        "en": "Reconciliation runs, newest first",
    },
    "chart_title": {
        "fr": "Montants rapprochés et non rapprochés par rapprochement ({currency})",
        "en": "Matched and unmatched amounts per run ({currency})",
    },
    "chart_desc": {
        "fr": "Une barre par rapprochement, du plus récent au plus ancien\u00a0: la part rapprochée, la part des écarts "
        "résolus depuis, puis la part encore en écart. Le tableau qui suit donne les montants.",
        "en": "One bar per run, newest first: the matched part, the part of its discrepancies resolved "
        "since, then the part still in discrepancies. The table below gives the amounts.",
    },
    "chart_table_caption": {
        "fr": "Montants par rapprochement, du plus récent ({currency})",
        "en": "Amounts per run, newest first ({currency})",
    },
    "chart_bar_text": {
        "fr": "{matched} rapprochés\n{unmatched} en écart, {resolved} résolus",
        "en": "{matched} matched\n{unmatched} open, {resolved} resolved",
    },
    "matched": {"fr": "Rapproché", "en": "Matched"},
    "unmatched": {"fr": "En écart", "en": "Open"},
    "resolved": {"fr": "Écart résolu", "en": "Resolved"},
    "col_period": {"fr": "Période", "en": "Period"},
    "col_run_at": {"fr": "Lancé le", "en": "Run at"},
    "col_matched_count": {"fr": "Rapprochés", "en": "Matched"},
    "col_discrepancies": {"fr": "Écarts", "en": "Discrepancies"},
    "col_suggestions": {"fr": "Suggestions", "en": "Suggestions"},
    "period_text": {"fr": "du {start} au {end}", "en": "{start} to {end}"},
    "run_title": {
        "fr": "Rapprochement du {start} au {end}",
        "en": "Reconciliation, {start} to {end}",
    },
    "run_meta": {
        "fr": "Lancé le {when} via {actor}, prestataire {provider}.",
        "en": "Run on {when} through {actor}, provider {provider}.",
    },
    "run_sources": {"fr": "Sources\u00a0:", "en": "Sources:"},
    "sources_separator": {"fr": "\u00a0; ", "en": "; "},
    "source_psp": {
        "fr": "lignes lues chez le prestataire {provider}",
        "en": "lines read from the provider {provider}",
    },
    "source_file": {
        "fr": "fichier {filename} (SHA-256 {sha})",
        "en": "file {filename} (SHA-256 {sha})",
    },
    "download_run_csv": {"fr": "Écarts en CSV", "en": "Discrepancies as CSV"},
    "download_run_pdf": {"fr": "Rapport PDF", "en": "PDF report"},
    "summary_title": {"fr": "Résumé", "en": "Summary"},
    "summary_matched": {
        "fr": "Éléments rapprochés\u00a0: {count}\u00a0; paiements\u00a0: {amounts}",
        "en": "Items matched: {count}; payments: {amounts}",
    },
    "summary_payouts": {
        "fr": "Virements rapprochés avec la banque\u00a0: {matched}\u00a0; en transit\u00a0: {transit}",
        "en": "Payouts matched with the bank: {matched}; in transit: {transit}",
    },
    "summary_open": {
        "fr": "Écarts ouverts\u00a0: {open}\u00a0; résolus\u00a0: {resolved}\u00a0; suggestions à examiner\u00a0: {suggestions}",
        "en": "Open discrepancies: {open}; resolved: {resolved}; suggestions to review: {suggestions}",
    },
    "tie_outs_caption": {
        "fr": "Le grand livre face aux sources",
        "en": "The ledger against the sources",
    },
    "col_tie_out": {"fr": "Contrôle", "en": "Check"},
    "col_ledger": {"fr": "Grand livre", "en": "Ledger"},
    "col_source": {"fr": "Source", "en": "Source"},
    "col_difference": {"fr": "Différence", "en": "Difference"},
    "tie_psp_clearing": {"fr": "Compte d'attente ↔ prestataire", "en": "Clearing ↔ provider"},
    "tie_bank": {
        "fr": "Banque ↔ relevé (solde de clôture)",
        "en": "Bank ↔ statement (closing balance)",
    },
    "tie_agrees": {"fr": "Concorde", "en": "Agrees"},
    "tie_differs": {"fr": "Diffère", "en": "Differs"},
    "categories_caption": {"fr": "Écarts par catégorie", "en": "Discrepancies by category"},
    "col_category": {"fr": "Catégorie", "en": "Category"},
    "col_count": {"fr": "Nombre", "en": "Count"},
    "discrepancies_title": {"fr": "Écarts", "en": "Discrepancies"},
    "no_discrepancies": {"fr": "Aucun écart.", "en": "No discrepancy."},
    "show_open": {"fr": "Écarts ouverts seulement", "en": "Open discrepancies only"},
    "show_all": {"fr": "Tous les écarts", "en": "Every discrepancy"},
    "more_in_csv": {
        "fr": "{count} autres écarts ne sont pas affichés\u00a0: téléchargez le CSV.",
        "en": "{count} more discrepancies are not shown: download the CSV.",
    },
    "refs_psp": {"fr": "Prestataire", "en": "Provider"},
    "refs_payout": {"fr": "Virement", "en": "Payout"},
    "refs_bank": {"fr": "Banque", "en": "Bank"},
    "refs_ledger": {"fr": "Grand livre", "en": "Ledger"},
    "d_status_open": {"fr": "Ouvert", "en": "Open"},
    "d_status_resolved": {"fr": "Résolu", "en": "Resolved"},
    "d_status_confirmed": {"fr": "Confirmée", "en": "Confirmed"},
    "d_status_rejected": {"fr": "Rejetée", "en": "Rejected"},
    "resolution": {
        "fr": "{note} — {actor}, le {when}",
        "en": "{note} — {actor}, {when}",
    },
    "resolution_no_note": {"fr": "{actor}, le {when}", "en": "{actor}, {when}"},
    "note_required": {"fr": "Note (obligatoire)", "en": "Note (required)"},
    "note_required_hint": {
        "fr": "Ce qui explique l'écart\u00a0; elle est conservée avec la clé de connexion "
        "(son service, son rôle et son début), pas avec un nom de personne.",
        "en": "What explains the discrepancy; it is kept with the key you signed in with "
        "(its service, role and prefix), not a person's name.",
    },
    "resolve": {"fr": "Marquer comme résolu", "en": "Mark as resolved"},
    "err_note": {
        "fr": "Écrivez une note pour résoudre cet écart.",
        "en": "Write a note to resolve this discrepancy.",
    },
    "suggestions_title": {"fr": "Suggestions à confirmer", "en": "Suggestions to confirm"},
    "suggestions_lead": {
        "fr": "Des rapprochements probables mais pas certains\u00a0: regie ne les applique que si vous les confirmez.",
        "en": "Likely but uncertain matches: regie applies them only once you confirm them.",
    },
    "no_suggestions": {"fr": "Aucune suggestion.", "en": "No suggestion."},
    "kind_payout_bank": {"fr": "Virement ↔ crédit bancaire", "en": "Payout ↔ bank credit"},
    "kind_payout_group": {
        "fr": "Plusieurs virements ↔ un crédit",
        "en": "Several payouts ↔ one credit",
    },
    "kind_bank_group": {
        "fr": "Un virement ↔ plusieurs crédits",
        "en": "One payout ↔ several credits",
    },
    "suggestion_amount_note": {
        "fr": "{amount}\u00a0: le montant du côté de la banque (le ou les crédits). Le montant et "
        "la date du côté du virement ne sont pas conservés avec la suggestion\u00a0: comparez-les "
        "chez le prestataire avant de décider.",
        "en": "{amount}: the amount on the bank's side (the credit or credits). The payout side's "
        "amount and date are not kept with the suggestion: compare them at the provider before "
        "deciding.",
    },
    "note_optional": {"fr": "Note (facultative)", "en": "Note (optional)"},
    "confirm": {"fr": "Confirmer", "en": "Confirm"},
    "reject": {"fr": "Rejeter", "en": "Reject"},
    "heal_title": {"fr": "Argent absent du grand livre", "en": "Money missing from the ledger"},
    "heal_lead": {
        "fr": "Le prestataire a encaissé des sommes que regie n'a pas enregistrées (un événement perdu). "
        "regie peut relire les événements du prestataire et les appliquer\u00a0; relancez ensuite la période.",
        "en": "The provider took money regie never recorded (a lost event). regie can fetch "
        "the provider's events and apply them; then run the period again.",
    },
    "heal": {"fr": "Relire les événements du prestataire", "en": "Fetch the provider's events"},
    "done_resolved": {"fr": "L'écart est résolu.", "en": "The discrepancy is resolved."},
    "done_confirm": {"fr": "La suggestion est confirmée.", "en": "The suggestion is confirmed."},
    "done_reject": {"fr": "La suggestion est rejetée.", "en": "The suggestion is rejected."},
    "done_healed": {
        "fr": "Événements relus et appliqués\u00a0: {n}. Relancez la période pour voir le résultat.",
        "en": "Events fetched and applied: {n}. Run the period again to see the result.",
    },
    "run_not_found_title": {"fr": "Rapprochement introuvable", "en": "Reconciliation not found"},
    "run_not_found_body": {
        "fr": "Ce rapprochement, cet écart ou cette suggestion n'existe pas.",
        "en": "This reconciliation, discrepancy or suggestion does not exist.",
    },
    "back_to_runs": {"fr": "Retour aux rapprochements", "en": "Back to the reconciliations"},
    "err_period_future": {
        "fr": "La période est dans le futur\u00a0: il n'y a rien à rapprocher.",
        "en": "The period is in the future: there is nothing to reconcile yet.",
    },
    "err_period_long": {
        "fr": "Une période dure au plus un an.",
        "en": "A period is at most a year.",
    },
    "err_required_date": {"fr": "Saisissez une date.", "en": "Enter a date."},
    "err_file": {
        "fr": "Ce fichier ne peut pas être lu\u00a0: {reason}",
        "en": "This file cannot be read: {reason}",
    },
    "err_refused": {"fr": "Refusé\u00a0: {reason}", "en": "Refused: {reason}"},
    # bank statements
    "statements_title": {"fr": "Relevés bancaires", "en": "Bank statements"},
    "statements_lead": {
        "fr": "Les relevés camt.053 importés. Un même fichier n'est compté qu'une fois, et une "
        "écriture déjà importée par un autre relevé est signalée comme doublon.",
        "en": "The imported camt.053 statements. The same file counts once, and an entry "
        "already imported from another statement is reported as a duplicate.",
    },
    "upload_title": {"fr": "Importer un relevé", "en": "Import a statement"},
    "camt053_file": {"fr": "Relevé camt.053 (XML)", "en": "camt.053 statement (XML)"},
    "camt053_hint": {
        "fr": "Versions 001.02 à 001.08, tel que la banque l'envoie.",
        "en": "Versions 001.02 to 001.08, as the bank sends it.",
    },
    "upload": {"fr": "Importer", "en": "Import"},
    "err_no_file": {"fr": "Choisissez un fichier.", "en": "Choose a file."},
    "no_statements": {"fr": "Aucun relevé importé.", "en": "No statement imported yet."},
    "statements_caption": {
        "fr": "Relevés importés, du plus récent",
        "en": "Imported statements, newest first",
    },
    "col_file": {"fr": "Fichier", "en": "File"},
    "col_bank_account": {"fr": "Compte", "en": "Account"},
    "col_statements": {"fr": "Relevés", "en": "Statements"},
    "col_entries": {"fr": "Écritures", "en": "Entries"},
    "col_duplicates": {"fr": "Doublons", "en": "Duplicates"},
    "col_problems": {"fr": "Remarques", "en": "Problems"},
    "col_imported": {"fr": "Importé le", "en": "Imported"},
    "imported": {
        "fr": "{filename} importé\u00a0: {entries} écriture(s), {duplicates} doublon(s).",
        "en": "{filename} imported: {entries} entry(ies), {duplicates} duplicate(s).",
    },
    "already_imported": {
        "fr": "{filename} était déjà importé\u00a0: rien n'a été compté deux fois.",
        "en": "{filename} was already imported: nothing was counted twice.",
    },
    # dashboard: reconciliation
    "open_count_tail": {
        "fr": "à traiter, tous rapprochements confondus.",
        "en": "to deal with, across every run.",
    },
    "latest_run_open": {
        "fr": "Les écarts ouverts du dernier rapprochement ({period})\u00a0:",
        "en": "The open discrepancies of the last run ({period}):",
    },
    "see_runs": {"fr": "Tous les rapprochements", "en": "Every reconciliation"},
    "cat_missing_in_ledger": {"fr": "Absent du grand livre", "en": "Missing in the ledger"},
    "cat_missing_at_psp": {"fr": "Absent chez le prestataire", "en": "Missing at the provider"},
    "cat_amount_mismatch": {"fr": "Montant différent", "en": "Amount mismatch"},
    "cat_currency_mismatch": {"fr": "Devise différente", "en": "Currency mismatch"},
    "cat_fee_mismatch": {"fr": "Frais différents", "en": "Fee mismatch"},
    "cat_duplicate": {"fr": "Doublon", "en": "Duplicate"},
    "cat_payout_mismatch": {"fr": "Virement incohérent", "en": "Payout mismatch"},
    "cat_missing_in_bank": {"fr": "Absent du relevé bancaire", "en": "Missing in the bank"},
    "cat_unexpected_bank_credit": {
        "fr": "Crédit bancaire inattendu",
        "en": "Unexpected bank credit",
    },
    "cat_unexpected_bank_debit": {"fr": "Débit bancaire inattendu", "en": "Unexpected bank debit"},
}


def word(key: str, lang: str, **values: object) -> str:
    return translate_in(WORDS, key, lang, **values)


def duration(minutes: int, lang: str) -> str:
    """``480`` -> ``8 heures`` / ``8 hours``; ``90`` -> ``90 minutes``."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return word("hours_one", lang) if hours == 1 else word("hours_many", lang, n=hours)
    return word("minutes_one", lang) if minutes == 1 else word("minutes_many", lang, n=minutes)
