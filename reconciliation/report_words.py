"""The words of a run's PDF report, in French and English (the finance workspace's two
languages: it downloads the report in the page's language; the API's is English). Pure.

The CSV keeps its machine column names and codes in every language; only who decided
(``resolved_by``) is said in words there.
"""

from __future__ import annotations

from regie.kit.i18n import translate_in

# a run's sources, each discrepancy category's and suggestion kind's name, and a
# suggestion's sides' days: one source for the PDF, the CLI's summary
# (``report.CATEGORY_LABELS``) and the workspace's pages (``regie.finance.words``)
LABELS: dict[str, dict[str, str]] = {
    # a period's days are the ledger's UTC days (``reconciliation.ledger_copy.day_start``),
    # where the ledger page and the FEC count Paris days: said wherever a period is shown or
    # asked for, so the same month's two totals are never unexplained
    "period_days": {
        "fr": "Les jours de la période sont des jours UTC, ceux du grand livre\u00a0: un "
        "paiement à 0\u00a0h\u00a030 à Paris le 1er compte pour la veille. La page du grand "
        "livre et le FEC comptent en jours de Paris.",
        "en": "The period's days are UTC days, the ledger's: a payment at 00:30 in Paris on "
        "the 1st counts on the day before. The ledger page and the FEC count Paris days.",
    },
    # a run's sources: the files and the provider it read
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
    "source_import": {
        "fr": "relevé {filename} importé le {when} (SHA-256 {sha})",
        "en": "statement {filename} imported on {when} (SHA-256 {sha})",
    },
    # a suggestion's payout and bank credit, by their day
    "side_expected": {"fr": "attendu le {day}", "en": "expected on {day}"},
    "side_booked": {"fr": "comptabilisé le {day}", "en": "booked on {day}"},
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
    "kind_payout_bank": {"fr": "Virement ↔ crédit bancaire", "en": "Payout ↔ bank credit"},
    "kind_payout_group": {
        "fr": "Plusieurs virements ↔ un crédit",
        "en": "Several payouts ↔ one credit",
    },
    "kind_bank_group": {
        "fr": "Un virement ↔ plusieurs crédits",
        "en": "One payout ↔ several credits",
    },
}

# French puts a no-break space (\u00a0) before ":" and ";", so they never start a line.
WORDS: dict[str, dict[str, str]] = {
    # days in words, as the workspace's pages write them (``regie.kit.i18n.format_day``):
    # "du 1er octobre 2026 au 31 octobre 2026", "1 October 2026 to 31 October 2026"
    "title": {
        "fr": "Rapprochement du {start} au {end}",
        "en": "Reconciliation, {start} to {end}",
    },
    "period": {"fr": "du {start} au {end}", "en": "{start} to {end}"},
    "meta": {
        "fr": "Rapprochement {id}, lancé le {when} (heure de Paris) par {actor}\u00a0; "
        "empreinte des entrées {sha}…",
        "en": "Run {id}, made on {when} (Paris time) by {actor}; inputs checksum {sha}…",
    },
    # the counts come with their noun (``counted``)
    "inputs": {
        "fr": "Entrées\u00a0: {psp}, {ledger}, {bank}, {payouts}",
        "en": "inputs: {psp}, {ledger}, {bank}, {payouts}",
    },
    "matched": {
        "fr": "Rapprochés\u00a0: {count}\u00a0; paiements {amounts}",
        "en": "matched: {count}; payments {amounts}",
    },
    "payouts": {
        "fr": "Virements rapprochés avec la banque\u00a0: {matched}\u00a0; encore attendus\u00a0: {transit}",
        "en": "payouts matched to the bank: {matched}; still expected: {transit}",
    },
    "no_discrepancy_line": {"fr": "Écarts\u00a0: aucun", "en": "discrepancies: none"},
    "category_line": {"fr": "{label}\u00a0: {count}, {amount}", "en": "{label}: {count}, {amount}"},
    "open_line": {
        "fr": "Ouverts\u00a0: {open}\u00a0; résolus\u00a0: {resolved}\u00a0; "
        "suggestions à examiner\u00a0: {suggestions}",
        "en": "open: {open}; resolved: {resolved}; suggestions to review: {suggestions}",
    },
    "tie_agrees": {"fr": "concorde", "en": "agrees"},
    "tie_differs": {"fr": "diffère de {amount}", "en": "differs by {amount}"},
    "tie_psp_clearing": {
        "fr": "Compte d'attente ↔ prestataire ({currency})\u00a0: grand livre {ledger}, "
        "prestataire {source}{transit}\u00a0: {verdict}",
        "en": "tie-out psp_clearing ({currency}): ledger {ledger}, PSP {source}{transit}: "
        "{verdict}",
    },
    "tie_bank": {
        "fr": "Banque ↔ relevé ({currency})\u00a0: grand livre {ledger}, banque {source}"
        "{balance_of}{transit}\u00a0: {verdict}",
        "en": "tie-out bank ({currency}): ledger {ledger}, bank {source}{balance_of}{transit}: "
        "{verdict}",
    },
    # the bank's closing balance compared is of a day before the period's last (the month's
    # last statements are not in yet): the ledger is read at that day's end
    "tie_balance_of": {
        "fr": " au {day} (les relevés s'arrêtent là)",
        "en": " on {day} (the statements end there)",
    },
    # no statement closes in the period: a later one's opening balance is compared
    # (``weekend_opening``)
    "tie_opening_of": {
        "fr": " (solde d'ouverture du relevé {statement} du {day}\u00a0: rien de comptabilisé "
        "entre la fin de la période et lui)",
        "en": " (opening balance of statement {statement} of {day}: nothing booked between the "
        "period's end and it)",
    },
    # the statement whose closing balance is compared does not add up: said after the verdict
    "tie_unbalanced": {
        "fr": " — mais le relevé {statement} ne s'équilibre pas\u00a0: solde d'ouverture et "
        "écritures comptabilisées font {computed}, pas son solde de clôture {closing} "
        "(différence {difference})",
        "en": " — but statement {statement} does not add up: its opening balance and booked "
        "entries make {computed}, not its closing balance {closing} (a difference of "
        "{difference})",
    },
    # the bank's difference is an earlier period's, carried (balances are cumulative)
    "tie_carried": {
        "fr": ", depuis le rapprochement du {first} au {last} ({run})",
        "en": ", since the run of {first} to {last} ({run})",
    },
    # a payout the ledger booked into the bank by the period's end, credited after it
    "tie_in_transit": {"fr": ", en transit {amount}", "en": ", in transit {amount}"},
    # the clearing account's: what the ledger's movement of the period holds less the PSP's
    # lines of the period, for objects one side dated before or after the period's edge
    "tie_cut_off": {
        "fr": ", comptabilisé de part et d'autre d'une borne de la période {amount}",
        "en": ", booked across the period's edge {amount}",
    },
    "col_category": {"fr": "Catégorie", "en": "Category"},
    "col_status": {"fr": "Statut", "en": "Status"},
    "col_amount": {"fr": "Montant", "en": "Amount"},
    "col_references": {"fr": "Références", "en": "References"},
    "col_detail": {"fr": "Détail", "en": "Detail"},
    "ref_psp": {"fr": "Prestataire", "en": "PSP"},
    "ref_payout": {"fr": "Virement", "en": "Payout"},
    "ref_bank": {"fr": "Banque", "en": "Bank"},
    "ref_ledger": {"fr": "Grand livre", "en": "Ledger"},
    "resolution": {
        "fr": "Résolution\u00a0: {note} — {actor}, le {when}",
        "en": "Resolution: {note} — {actor}, {when}",
    },
    "no_discrepancy": {
        "fr": "Aucun écart\u00a0: tout est rapproché.",
        "en": "No discrepancy: everything matched.",
    },
    "no_discrepancy_tie_out_differs": {
        "fr": "Aucun écart dans ce rapprochement\u00a0; un contrôle ci-dessus diffère pourtant.",
        "en": "No discrepancy in this run; a tie-out above differs all the same.",
    },
    "suggestions": {
        "fr": "Rapprochements suggérés (une personne décide)",
        "en": "Suggested matches (a human decides)",
    },
    "col_payouts": {"fr": "Virements", "en": "Payouts"},
    "col_bank_entries": {"fr": "Écritures bancaires", "en": "Bank entries"},
    "why": {"fr": "{kind}\u00a0: {reason}", "en": "{kind}: {reason}"},
    "col_bank_amount": {"fr": "Montant (banque)", "en": "Amount (bank)"},
    "col_sides_difference": {
        "fr": "Écart (banque − virements)",
        "en": "Difference (bank − payouts)",
    },
    "col_why": {"fr": "Pourquoi", "en": "Why"},
    "decision": {"fr": "{note} — {actor}, le {when}", "en": "{note} — {actor}, {when}"},
    "decision_no_note": {"fr": "{actor}, le {when}", "en": "{actor}, {when}"},
    # a decision on a suggestion taken after the run read the decisions in force
    "after_run_confirmed": {
        "fr": "Confirmée après ce rapprochement\u00a0: prise en compte à partir du prochain\u00a0; "
        "les chiffres de celui-ci ne l'incluent pas.",
        "en": "Confirmed after this run: applies from the next run; this run's figures do not "
        "include it.",
    },
    "after_run_rejected": {
        "fr": "Rejetée après ce rapprochement\u00a0: prise en compte à partir du prochain\u00a0; "
        "les chiffres de celui-ci ne l'incluent pas.",
        "en": "Rejected after this run: applies from the next run; this run's figures do not "
        "include it.",
    },
    "status_open": {"fr": "Ouvert", "en": "open"},
    "status_resolved": {"fr": "Résolu", "en": "resolved"},
    "suggestion_status_open": {
        "fr": "Ouverte",
        "en": "open",
    },  # une suggestion (un écart: status_open)
    "suggestion_status_confirmed": {"fr": "Confirmée", "en": "confirmed"},
    "suggestion_status_rejected": {"fr": "Rejetée", "en": "rejected"},
    "reason_several_candidates": {
        "fr": "Même montant, plusieurs candidats\u00a0: choisissez le bon.",
        "en": "Same amount, several candidates: choose the right one.",
    },
    "reason_named_but_off": {
        "fr": "Le crédit cite ce virement, mais son montant ou sa date diffère.",
        "en": "The credit names the payout; its amount or date is off.",
    },
    "reason_several_combinations": {
        "fr": "Plusieurs combinaisons font ce montant\u00a0: choisissez la bonne.",
        "en": "Several combinations sum to the amount: choose the right one.",
    },
}


WORDS.update(LABELS)


# a count's noun, singular and plural, per language
NOUNS: dict[str, dict[str, tuple[str, str]]] = {
    "psp": {"fr": ("ligne du prestataire", "lignes du prestataire"),
            "en": ("PSP line", "PSP lines")},
    "ledger": {"fr": ("élément du grand livre", "éléments du grand livre"),
               "en": ("ledger item", "ledger items")},
    "bank": {"fr": ("écriture bancaire", "écritures bancaires"),
             "en": ("bank entry", "bank entries")},
    "payouts": {"fr": ("virement", "virements"), "en": ("payout", "payouts")},
    "items": {"fr": ("élément", "éléments"), "en": ("item", "items")},
}  # fmt: skip


def counted(n: int, noun: str, lang: str) -> str:
    """``n`` and its noun, which agrees: French takes the singular below two, English for
    one only."""
    fr = lang == "fr"
    one, many = NOUNS[noun]["fr" if fr else "en"]
    return f"{n} {one if (abs(n) < 2 if fr else n == 1) else many}"


def say(key: str, lang: str, **values: object) -> str:
    """``key`` in ``lang`` (English unless French is asked); the key itself when unknown."""
    return translate_in(WORDS, key, "fr" if lang == "fr" else "en", **values)
