"""The finance workspace's words for reconciliation: runs, their discrepancies and
suggestions, bank statements, the dashboard's reconciliation panel. In French and English;
pure. ``regie.finance.words.WORDS`` holds these with the shell's pages' words and the
categories' and suggestion kinds' names, which the reports share
(``reconciliation.report_words.LABELS``).

French puts a no-break space (\u00a0) before ":" and ";".
"""

from __future__ import annotations

from reconciliation.report_words import WORDS

RECON_WORDS: dict[str, dict[str, str]] = {
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
    "download_run_csv": {"fr": "Écarts en CSV", "en": "Discrepancies as CSV"},
    "download_run_pdf": {"fr": "Rapport PDF", "en": "PDF report"},
    "summary_title": {"fr": "Résumé", "en": "Summary"},
    "summary_matched": {
        "fr": "Éléments rapprochés\u00a0: {count}\u00a0; paiements\u00a0: {amounts}",
        "en": "Items matched: {count}; payments: {amounts}",
    },
    "summary_payouts": {
        "fr": "Virements rapprochés avec la banque\u00a0: {matched}\u00a0; encore attendus\u00a0: {transit}",
        "en": "Payouts matched with the bank: {matched}; still expected: {transit}",
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
    # the bank's: payouts the ledger booked by the period's end, credited by the bank after it
    "col_in_transit": {"fr": "Virements en transit", "en": "Payouts in transit"},
    # the clearing account's: objects both sides agree on, one side dating them before or
    # after the period's edge (a payment at 23:59:30 that regie learnt of after midnight)
    "col_cut_off": {
        "fr": "Comptabilisé de part et d'autre d'une borne",
        "en": "Booked across the period's edge",
    },
    "tie_psp_clearing": {"fr": "Compte d'attente ↔ prestataire", "en": "Clearing ↔ provider"},
    "tie_bank": {
        "fr": "Banque ↔ relevé (solde de clôture)",
        "en": "Bank ↔ statement (closing balance)",
    },
    # the bank's closing balance compared is of an earlier day than the period's last (the
    # ledger is read at that day's end)
    "tie_balance_of": {
        "fr": "solde du {day}\u00a0: les relevés s'arrêtent là",
        "en": "balance of {day}: the statements end there",
    },
    # no statement closes in the period: a later one's opening balance is compared
    "tie_opening_of": {
        "fr": "solde d'ouverture du relevé {statement} du {day}\u00a0: rien de comptabilisé "
        "entre la fin de la période et lui",
        "en": "opening balance of statement {statement} of {day}: nothing booked between the "
        "period's end and it",
    },
    "tie_agrees": {"fr": "Concorde", "en": "Agrees"},
    # the bank's difference is an earlier period's, carried (balances are cumulative):
    # the link to the run it first appeared in
    "tie_carried_from": {"fr": "Écart reporté depuis", "en": "Difference carried from"},
    "tie_carried_run": {
        "fr": "le rapprochement du {first} au {last}",
        "en": "the run of {first} to {last}",
    },
    # the statement whose closing balance is compared does not add up (its entries make
    # another balance): said beside the status, never a bare "Agrees"
    "tie_unbalanced": {
        "fr": "mais le relevé {statement} ne s'équilibre pas\u00a0: ouverture et écritures "
        "font {computed}, pas son solde de clôture {closing} (différence {difference})",
        "en": "but statement {statement} does not add up: its opening balance and entries "
        "make {computed}, not its closing balance {closing} (a difference of {difference})",
    },
    "tie_differs": {"fr": "Diffère", "en": "Differs"},
    "categories_caption": {"fr": "Écarts par catégorie", "en": "Discrepancies by category"},
    "col_category": {"fr": "Catégorie", "en": "Category"},
    "col_count": {"fr": "Nombre", "en": "Count"},
    "discrepancies_title": {"fr": "Écarts", "en": "Discrepancies"},
    "no_discrepancies": {"fr": "Aucun écart.", "en": "No discrepancy."},
    "no_open_discrepancies": {"fr": "Aucun écart ouvert.", "en": "No open discrepancy."},
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
    "s_status_open": {"fr": "Ouverte", "en": "Open"},  # une suggestion (un écart: d_status_open)
    "s_status_confirmed": {"fr": "Confirmée", "en": "Confirmed"},
    "s_status_rejected": {"fr": "Rejetée", "en": "Rejected"},
    "resolution": {
        "fr": "{note} — {actor}, le {when}",
        "en": "{note} — {actor}, {when}",
    },
    "resolution_no_note": {"fr": "{actor}, le {when}", "en": "{actor}, {when}"},
    # a decision on a suggestion taken after the run read the decisions in force: the
    # report's words
    **{k: WORDS[k] for k in ("after_run_confirmed", "after_run_rejected")},
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
    "err_note_long": {
        "fr": "La note fait {length} caractères ; {limit} au plus. Raccourcissez-la : rien n'a été enregistré.",
        "en": "The note is {length} characters long; {limit} at most. Shorten it: nothing was recorded.",
    },
    "suggestions_title": {"fr": "Suggestions à confirmer", "en": "Suggestions to confirm"},
    "suggestions_lead": {
        "fr": "Des rapprochements probables mais pas certains\u00a0: regie ne les applique que si vous les confirmez.",
        "en": "Likely but uncertain matches: regie applies them only once you confirm them.",
    },
    "no_suggestions": {"fr": "Aucune suggestion.", "en": "No suggestion."},
    "suggestion_amount_note": {
        "fr": "{amount}\u00a0: le montant du côté de la banque (le ou les crédits). Cette "
        "suggestion date d'avant que regie conserve les deux côtés\u00a0: comparez le montant et "
        "la date du virement chez le prestataire avant de décider.",
        "en": "{amount}: the amount on the bank's side (the credit or credits). This suggestion "
        "dates from before regie kept both sides: compare the payout's amount and date at the "
        "provider before deciding.",
    },
    "sides_caption": {"fr": "Les deux côtés", "en": "Both sides"},
    "col_side": {"fr": "Côté", "en": "Side"},
    "col_reference": {"fr": "Référence", "en": "Reference"},
    "col_day": {"fr": "Date", "en": "Date"},
    "side_payout": {"fr": "Virement du prestataire", "en": "Provider's payout"},
    "side_credit": {"fr": "Crédit en banque", "en": "Bank credit"},
    "sides_same": {
        "fr": "Les montants des deux côtés sont égaux.",
        "en": "Both sides have the same amount.",
    },
    "sides_more": {
        "fr": "La banque a reçu {amount} de plus que le ou les virements.",
        "en": "The bank received {amount} more than the payout or payouts.",
    },
    "sides_less": {
        "fr": "La banque a reçu {amount} de moins que le ou les virements.",
        "en": "The bank received {amount} less than the payout or payouts.",
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
    "coverage_title": {"fr": "Ce que disent les relevés", "en": "What the statements tell"},
    "coverage_lead": {
        "fr": "Par compte et devise : le premier et le dernier jour d'un relevé importé, le "
        "solde sur lequel le dernier se clôt, et les lacunes : les jours dont aucun relevé "
        "importé ne parle (un relevé qui ne s'ouvre pas sur le solde de clôture du précédent), "
        "ou un relevé qui ne s'ouvre pas sur celui de la veille (réémis, ou un autre relevé du "
        "même jour jamais importé). Un rapprochement "
        "lit les relevés jusqu'au premier trou après le solde de clôture qu'il compare : un "
        "versement attendu après est en transit ; un versement attendu dans un trou avant ce "
        "solde reste absent de la banque, et l'écart nomme ces jours.",
        "en": "Per account and currency: the first and the last day of an imported statement, "
        "the balance the last one closes on, and the gaps: the days no imported statement "
        "tells of (a statement that does not open on the previous one's closing balance), or "
        "a statement that does not open on the day before's (issued again, or another "
        "statement of that day never imported). A "
        "reconciliation reads the statements up to the first gap after the closing balance it "
        "compares: a payout due after that is in transit; one due in a gap before that balance "
        "stays missing in the bank, and its discrepancy names the days.",
    },
    "coverage_caption": {
        "fr": "Jours couverts par les relevés importés",
        "en": "Days the imported statements cover",
    },
    "col_first_day": {"fr": "Du", "en": "From"},
    "col_last_day": {"fr": "Au", "en": "To"},
    "col_closing": {"fr": "Solde de clôture", "en": "Closing balance"},
    "col_gaps": {"fr": "Lacunes", "en": "Gaps"},
    "no_gap": {"fr": "Aucune", "en": "None"},
    "break_day": {
        "fr": "{day} : le relevé ne s'ouvre pas sur le solde de clôture du {after}",
        "en": "{day}: the statement does not open on the closing balance of {after}",
    },
    "imported": {
        "fr": "{filename} importé\u00a0: {entries} écriture(s), {duplicates} doublon(s).",
        "en": "{filename} imported: {entries} entry(ies), {duplicates} duplicate(s).",
    },
    "already_imported": {
        "fr": "{filename} était déjà importé\u00a0: rien n'a été compté deux fois.",
        "en": "{filename} was already imported: nothing was counted twice.",
    },
    # dashboard: reconciliation
    "bank_told": {
        "fr": "Relevés de la banque ({currency}) : jusqu'au {day}, solde de clôture {amount}.",
        "en": "The bank's statements ({currency}): up to {day}, closing balance {amount}.",
    },
    "bank_told_gaps": {
        "fr": "Jours jamais importés : {days}.",
        "en": "Days never imported: {days}.",
    },
    "bank_told_link": {"fr": "Voir les relevés", "en": "See the statements"},
    "open_count_tail": {
        "fr": "à traiter, tous rapprochements confondus.",
        "en": "to deal with, across every run.",
    },
    "latest_run_open": {
        "fr": "Les écarts ouverts du dernier rapprochement ({period})\u00a0:",
        "en": "The open discrepancies of the last run ({period}):",
    },
    "see_runs": {"fr": "Tous les rapprochements", "en": "Every reconciliation"},
}
