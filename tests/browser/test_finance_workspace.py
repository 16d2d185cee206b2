"""The finance workspace in a real Chromium against a real ``regie demo`` server: signing
in and out, CSRF, refused and revoked keys, every page with data in French and English at
phone and desktop widths, axe-core on each, the CSV download, and the pages without
JavaScript.

Screenshots of every page go to ``$REGIE_SCREENSHOTS`` when it is set (to look at them),
else to the test's temporary directory.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from payments.providers.simulator.camt053 import booking_day
from payments.providers.simulator.records import BANK_TZ
from tests.browser.conftest import (
    DemoServer,
    _regie_command,
    _start_demo,
    _stop,
    _wait_healthy,
    assert_accessible,
)

FINANCE_KEY = "rk_test_fin_demo_tresorerie"  # seeded by `regie demo`
WIDTHS = (360, 1280)
SETTLE_S = 20.0
WORDS = {
    "fr": {
        "key": "Clé d'API finance",
        "sign_in": "Se connecter",
        "sign_out": "Se déconnecter",
        "dashboard": "Tableau de bord",
        "nav_ledger": "Grand livre",
        "ledger": "Soldes du grand livre",
        "invoices": "Factures",
        "search": "Rechercher",
        "text": "Texte",
        "csv": "Télécharger en CSV",
        "signed_out": "Vous êtes déconnecté.",
        "income": "Produit",
    },
    "en": {
        "key": "Finance API key",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "dashboard": "Dashboard",
        "nav_ledger": "Ledger",
        "ledger": "Ledger balances",
        "invoices": "Invoices",
        "search": "Search",
        "text": "Text",
        "csv": "Download as CSV",
        "signed_out": "You are signed out.",
        "income": "Income",
    },
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::pytest.PytestRemovedIn10Warning"),
]


@pytest.fixture(scope="module")
def paid_reference(demo_server: DemoServer) -> str:
    """An invoice of the demo paid through the simulator's card page (over HTTP), and
    applied by the demo's worker: the clearing account has money in it."""
    return pay_an_invoice(demo_server)


def pay_an_invoice(demo_server: DemoServer) -> str:
    """A new invoice of the demo, paid by card and applied by the worker: its reference."""
    reference = f"FIN-{uuid.uuid4().hex[:8]}"
    inv = demo_server.create_invoice(reference, amount=4200)
    token = inv["payment_url"].rsplit("/", 1)[1]
    with httpx.Client(base_url=demo_server.base_url, timeout=10) as c:
        r = c.post(f"/pay/{token}/checkout")
        assert r.status_code == 303, r.text
        card_page = r.headers["location"].removeprefix(demo_server.base_url)
        r = c.post(card_page, data={"card_number": "4242 4242 4242 4242", "expiry": "12/39", "cvc": "123"})  # fmt: skip
        assert r.status_code == 303, r.text
    deadline = time.monotonic() + SETTLE_S
    while demo_server.get_invoice(inv["id"])["status"] != "paid":
        assert time.monotonic() < deadline, "the demo's worker did not apply the payment"
        time.sleep(0.2)
    return reference


def shots_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("REGIE_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def look(page: Page, what: str, folder: Path, width: int, lang: str) -> None:
    """axe-core finds nothing; the page does not scroll sideways (wide tables scroll in
    their own region); a full-page screenshot is kept."""
    page.screenshot(path=str(folder / f"finance-{what}-{lang}-{width}.png"), full_page=True)
    assert_accessible(page, what)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the {what} is {overflow}px wider than a {width}px screen"


def sign_in(page: Page, server: DemoServer, key: str = FINANCE_KEY, lang: str = "fr") -> None:
    page.goto(f"{server.base_url}/finance/login")
    page.get_by_label(WORDS[lang]["key"]).fill(key)
    page.get_by_role("button", name=WORDS[lang]["sign_in"]).click()


def regie_cli(server: DemoServer, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIE_", "STRIPE_"))}
    env.update(
        REGIE_DATABASE_URL=server.database_url,
        REGIE_BASE_URL=server.base_url,  # the simulator's events go to the running demo
        REGIE_LOG_LEVEL="WARNING",
    )
    done = subprocess.run(
        [*_regie_command(), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_finance_officer_reads_every_page(
    make_page: Callable[..., Page],
    demo_server: DemoServer,
    paid_reference: str,
    tmp_path: Path,
    lang: str,
) -> None:
    w = WORDS[lang]
    folder = shots_dir(tmp_path)
    for width in WIDTHS:
        page = make_page(
            locale="fr-FR" if lang == "fr" else "en-GB",
            viewport={"width": width, "height": 800},
            accept_downloads=True,
        )
        page.goto(f"{demo_server.base_url}/finance/")
        expect(page).to_have_url(re.compile(r"/finance/login$"))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        look(page, "login", folder, width, lang)

        sign_in(page, demo_server, lang=lang)
        expect(page).to_have_url(re.compile(r"/finance/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text(w["dashboard"])
        clearing = page.get_by_role("row").filter(has_text="assets:psp:simulator")
        expect(clearing).to_have_count(1)
        look(page, "dashboard", folder, width, lang)

        page.get_by_role("navigation").get_by_role("link", name=w["nav_ledger"]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(w["ledger"])
        income = page.get_by_role("row").filter(has_text="income:urbanisme")
        expect(income).to_contain_text(w["income"])
        look(page, "ledger", folder, width, lang)

        page.get_by_role("navigation").get_by_role("link", name=w["invoices"]).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(w["invoices"])
        page.get_by_label(w["text"], exact=True).fill(paid_reference)
        page.get_by_role("button", name=w["search"], exact=True).click()
        expect(page.get_by_role("table").get_by_role("row")).to_have_count(2)  # header + 1
        expect(page.get_by_role("table")).to_contain_text(paid_reference)
        look(page, "invoices", folder, width, lang)

        with page.expect_download() as download:
            page.get_by_role("link", name=w["csv"]).click()
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert [(x["reference"], x["amount_total"], x["status"]) for x in rows] == [
            (paid_reference, "42.00", "paid")
        ]

        page.get_by_role("button", name=w["sign_out"]).click()
        expect(page.get_by_role("status")).to_have_text(w["signed_out"])
        page.goto(f"{demo_server.base_url}/finance/ledger")
        expect(page).to_have_url(re.compile(r"/finance/login\?next="))


def test_the_pages_work_without_javascript(
    make_page: Callable[..., Page], demo_server: DemoServer, paid_reference: str
) -> None:
    page = make_page(java_script_enabled=False)
    sign_in(page, demo_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    page.goto(f"{demo_server.base_url}/finance/invoices")
    page.get_by_label("Texte", exact=True).fill(paid_reference)
    page.get_by_label("Statut").select_option("paid")
    page.get_by_role("button", name="Rechercher", exact=True).click()
    expect(page.get_by_role("table")).to_contain_text(paid_reference)
    page.goto(f"{demo_server.base_url}/finance/ledger")
    page.get_by_label("Soldes à la fin du").fill("2020-01-31")
    page.get_by_role("button", name="Afficher").click()
    expect(page.locator("main")).to_contain_text("Aucune écriture au 31 janvier 2020.")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")


def test_a_service_key_is_refused_with_a_clear_message(page: Page, demo_server: DemoServer) -> None:
    sign_in(page, demo_server, key=demo_server.key)
    expect(page.get_by_role("alert")).to_have_text(
        "Cette clé est une clé de service\u00a0: l'espace finances demande une clé finance."
    )
    expect(page.get_by_label("Clé d'API finance")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "login page with an error")
    page.goto(f"{demo_server.base_url}/finance/")
    expect(page).to_have_url(re.compile(r"/finance/login$"))


def test_a_revoked_key_is_signed_out(page: Page, demo_server: DemoServer) -> None:
    key = regie_cli(demo_server, "keys", "create", "--service", "tresorerie", "--role", "finance")
    assert key.startswith("rk_test_fin_"), key
    sign_in(page, demo_server, key=key)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    regie_cli(demo_server, "keys", "revoke", key)
    page.reload()
    expect(page).to_have_url(re.compile(r"/finance/login\?reason=revoked$"))
    expect(page.get_by_role("status")).to_contain_text("Votre clé a été révoquée")
    assert_accessible(page, "login page after revocation")


def test_a_form_with_a_forged_csrf_token_is_refused(page: Page, demo_server: DemoServer) -> None:
    sign_in(page, demo_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    # the test (not the page) alters the hidden field, as a forged cross-site form would
    page.locator('form.logout input[name="csrf"]').evaluate("el => el.value = 'forged'")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Formulaire refusé")
    assert_accessible(page, "CSRF refusal page")
    page.goto(f"{demo_server.base_url}/finance/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")  # still in


RECON = {
    "fr": {
        "nav_runs": "Rapprochements",
        "nav_statements": "Relevés bancaires",
        "camt": "Relevé camt.053 (XML)",
        "import": "Importer",
        "from": "Du",
        "to": "Au (inclus)",
        "start": "Lancer le rapprochement",
        "csv": "Écarts en CSV",
        "pdf": "Rapport PDF",
        "chart": "Montants rapprochés et non rapprochés par rapprochement (EUR)",
    },
    "en": {
        "nav_runs": "Reconciliations",
        "nav_statements": "Bank statements",
        "camt": "camt.053 statement (XML)",
        "import": "Import",
        "from": "From",
        "to": "To (included)",
        "start": "Start the reconciliation",
        "csv": "Discrepancies as CSV",
        "pdf": "PDF report",
        "chart": "Matched and unmatched amounts per run (EUR)",
    },
}


def statement_days() -> tuple[str, str]:
    """The days a statement of a payout made now covers: from UTC's day (where the run's
    period starts) to the day the bank books it: the simulator's payouts arrive on the
    bank's day (Europe/Paris: from 23:00 UTC in winter, tomorrow), booked on Monday when
    that is a weekend's."""
    utc, bank = dt.datetime.now(dt.UTC).date(), dt.datetime.now(BANK_TZ).date()
    return min(utc, bank).isoformat(), booking_day(max(utc, bank)).isoformat()


@pytest.fixture(scope="module")
def bank_statement(demo_server: DemoServer, paid_reference: str, tmp_path_factory) -> Path:
    """The simulator pays its balance out (the payout's events reach the demo's worker) and
    writes the bank's camt.053 for today."""
    regie_cli(demo_server, "simulator", "payout")
    today, booked = statement_days()
    target = tmp_path_factory.mktemp("bank") / "releve.xml"
    regie_cli(
        demo_server, "simulator", "bank-statement", "--from", today, "--to", booked,
        "--as-of", booked, "--output", str(target),
    )  # fmt: skip
    return target


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_finance_officer_reconciles_the_day_from_the_pages(
    make_page: Callable[..., Page],
    demo_server: DemoServer,
    bank_statement: Path,
    tmp_path: Path,
    lang: str,
) -> None:
    w, r = WORDS[lang], RECON[lang]
    folder = shots_dir(tmp_path)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    for width in WIDTHS:
        page = make_page(
            locale="fr-FR" if lang == "fr" else "en-GB",
            viewport={"width": width, "height": 800},
            accept_downloads=True,
        )
        sign_in(page, demo_server, lang=lang)
        page.get_by_role("navigation").get_by_role("link", name=r["nav_statements"]).click()
        page.get_by_label(r["camt"]).set_input_files(str(bank_statement))
        page.get_by_role("button", name=r["import"], exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("releve.xml")
        expect(page.locator("table.statements")).to_contain_text("releve.xml")
        look(page, "statements", folder, width, lang)

        page.get_by_role("navigation").get_by_role("link", name=r["nav_runs"]).click()
        page.get_by_label(r["from"], exact=True).fill(today)
        page.get_by_label(r["to"], exact=True).fill(today)
        page.get_by_role("button", name=r["start"]).click()
        expect(page).to_have_url(re.compile(r"/finance/runs/run_\w+$"))
        look(page, "run", folder, width, lang)
        with page.expect_download() as csv_download:
            page.get_by_role("link", name=r["csv"]).click()
        got = Path(csv_download.value.path()).read_bytes()
        assert got.startswith("\ufeffid,category,status,amount".encode())  # BOM for Excel
        with page.expect_download() as pdf_download:
            page.get_by_role("link", name=r["pdf"]).click()
        assert Path(pdf_download.value.path()).read_bytes().startswith(b"%PDF")

        page.get_by_role("navigation").get_by_role("link", name=r["nav_runs"]).click()
        expect(page.get_by_role("img", name=r["chart"])).to_be_visible()
        look(page, "runs", folder, width, lang)
        page.get_by_role("navigation").get_by_role("link", name=w["dashboard"]).click()
        look(page, "dashboard-with-runs", folder, width, lang)


def test_a_phone_sees_every_cell_of_the_runs_tie_outs_and_invoices(
    make_page: Callable[..., Page], demo_server: DemoServer, bank_statement: Path
) -> None:
    """At 390 px, the tables of runs (the page's and the dashboard's), a run's tie-outs, the
    invoices and what the bank's statements tell become a block per row, each cell labelled:
    none is off-screen, so the time of a run, its counts, a tie-out's difference, an
    invoice's amount and the statements' last day are seen."""
    r = RECON["fr"]
    page = make_page(viewport={"width": 390, "height": 844})
    sign_in(page, demo_server)
    page.goto(f"{demo_server.base_url}/finance/bank-statements")
    page.get_by_label(r["camt"]).set_input_files(str(bank_statement))
    page.get_by_role("button", name=r["import"], exact=True).click()
    page.goto(f"{demo_server.base_url}/finance/runs")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    page.get_by_label(r["from"], exact=True).fill(today)
    page.get_by_label(r["to"], exact=True).fill(today)
    page.get_by_role("button", name=r["start"]).click()
    expect(page.get_by_role("table").filter(has_text="Différence")).to_have_count(1)
    run_page = page.url
    for path, labels in (
        (run_page, ["Différence", "Statut", "Grand livre"]),
        ("/finance/runs", ["Lancé le", "Écarts", "Suggestions"]),
        ("/finance/", ["Lancé le", "Écarts"]),
        ("/finance/invoices", ["Montant", "Statut", "Payé"]),
        ("/finance/bank-statements", ["Du", "Au", "Solde de clôture", "Lacunes"]),
    ):
        page.goto(path if path.startswith("http") else demo_server.base_url + path)
        off = page.evaluate(
            """() => [...document.querySelectorAll(
                    'table:is(.runs, .ties, .invoices, .coverage) tbody :is(td, th)')]
                .filter(c => c.getBoundingClientRect().right > window.innerWidth + 0.5)
                .map(c => c.textContent.trim())"""
        )
        assert off == [], f"{path}: cells off-screen at 390 px: {off}"
        for label in labels:
            expect(page.locator(f'td[data-label="{label}"]').first).to_be_visible()
        assert_accessible(page, path)


def test_a_suggestion_shows_both_sides_on_a_phone_and_a_desktop(
    make_page: Callable[..., Page], demo_server: DemoServer, bank_statement: Path, tmp_path: Path
) -> None:
    """A second payout whose bank credit names it for one cent more: the run shows a
    suggestion with both sides (the payout, the credit, what differs); axe-core finds
    nothing and nothing is off-screen, at 390 and 1280 px, in French and English."""
    pay_an_invoice(demo_server)
    regie_cli(demo_server, "simulator", "payout")
    today, booked = statement_days()
    target = tmp_path / "releve2.xml"
    regie_cli(demo_server, "simulator", "bank-statement", "--from", today, "--to", booked,
              "--as-of", booked, "--output", str(target))  # fmt: skip
    before = set(re.findall(r"<AcctSvcrRef>([^<]+)</AcctSvcrRef>", bank_statement.read_text()))
    xml = target.read_text()
    entries = re.findall(r"<Ntry>.*?</Ntry>", xml, flags=re.S)
    (new,) = [e for e in entries if not before & set(re.findall(r"<AcctSvcrRef>([^<]+)<", e))]
    amount = re.search(r'<Amt Ccy="EUR">([0-9.]+)</Amt>', new)
    assert amount is not None
    cents = int(amount.group(1).replace(".", "")) + 1
    off = new.replace(amount.group(0), f'<Amt Ccy="EUR">{cents // 100}.{cents % 100:02d}</Amt>', 1)
    target.write_text(xml.replace(new, off))
    folder = shots_dir(tmp_path)
    for lang, side in (("fr", "Crédit en banque"), ("en", "Bank credit")):
        r = RECON[lang]
        for width in WIDTHS:
            page = make_page(locale="fr-FR" if lang == "fr" else "en-GB",
                             viewport={"width": width, "height": 800})  # fmt: skip
            sign_in(page, demo_server, lang=lang)
            if lang == "fr" and width == WIDTHS[0]:  # once: the statement with the credit
                page.goto(f"{demo_server.base_url}/finance/bank-statements")
                page.get_by_label(r["camt"]).set_input_files(str(target))
                page.get_by_role("button", name=r["import"], exact=True).click()
            page.goto(f"{demo_server.base_url}/finance/runs")
            page.get_by_label(r["from"], exact=True).fill(today)
            page.get_by_label(r["to"], exact=True).fill(booked)
            page.get_by_role("button", name=r["start"]).click()
            expect(page).to_have_url(re.compile(r"/finance/runs/run_\w+$"))
            sides = page.locator("table.sides")
            expect(sides).to_have_count(1)
            expect(sides).to_contain_text(side)
            expect(page.locator("li.item p.bad").first).to_be_visible()
            look(page, "suggestion", folder, width, lang)


def test_a_link_from_another_site_keeps_the_officer_signed_in(
    page: Page, demo_server: DemoServer
) -> None:
    """An officer signed in on 127.0.0.1 follows a link from another site (localhost is
    another site to the browser): the SameSite=Strict cookie stays home on that navigation,
    and the sign-in page used to replace it with a new one, signing the officer out. It now
    goes on from the site itself, where the cookie is sent: the officer lands on the page,
    and their session still works."""
    sign_in(page, demo_server)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    assert "127.0.0.1" in demo_server.base_url
    other_site = demo_server.base_url.replace("127.0.0.1", "localhost")
    page.goto(f"{other_site}/receipts/verify/213105554/2026-000000?c=x")  # any page there
    target = f"{demo_server.base_url}/finance/runs"
    page.evaluate("url => { window.location.href = url; }", target)
    expect(page).to_have_url(target)
    expect(page.get_by_role("heading", level=1)).to_have_text("Rapprochements")
    page.goto(f"{demo_server.base_url}/finance/")  # the same session, in this tab and others
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")


@contextmanager
def paid_out_demo(tmp: Path) -> Iterator[DemoServer]:
    """A demo of its own in ``tmp``, with an invoice paid and paid out (a clearing and a
    bank balance), for tests whose statements or discrepancies the shared demo must not see."""
    proc, server = _start_demo(tmp)
    try:
        assert _wait_healthy(proc, server), server.log_tail()
        pay_an_invoice(server)
        regie_cli(server, "simulator", "payout")
        yield server
    finally:
        _stop(proc)
