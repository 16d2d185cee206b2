"""The workspace's reconciliation pages through the ASGI app (SQLite and PostgreSQL): upload
a bank statement, start a run, read it with its chart, resolve a discrepancy (a note is
required and holds in the next run), confirm and reject suggestions, download the CSV and
the PDF, and see it all on the dashboard. Refused input stores nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from sqlmodel import col

from reconciliation.models import BankStatementImport, ReconRun
from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay
from tests.finance.conftest import csrf_of, sign_in
from tests.payments.test_simulator_payouts import paid_invoice, sim
from tests.reconciliation.test_reconcile_api import IBAN, camt

NBSP = "\u00a0"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def page_text(r: httpx.Response) -> str:
    return unescape(re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", r.text)))


async def signed_in(client: httpx.AsyncClient, keys: Keys) -> str:
    """Sign in as finance; returns the session's CSRF token."""
    assert (await sign_in(client, keys.finance)).status_code == 303
    return csrf_of((await client.get("/finance/")).text)


async def upload(client: httpx.AsyncClient, csrf: str, data: bytes, name: str) -> httpx.Response:
    return await client.post(
        "/finance/bank-statements",
        data={"csrf": csrf},
        files={"camt053": (name, data, "application/xml")},
    )


async def start(client: httpx.AsyncClient, csrf: str, **files: Any) -> httpx.Response:
    today = utcnow().date().isoformat()
    return await client.post(
        "/finance/runs",
        data={"csrf": csrf, "period_from": today, "period_to": today},
        files=files or {"stripe_csv": ("", b"", "application/octet-stream")},  # none chosen
    )


def run_id_of(r: httpx.Response) -> str:
    assert r.status_code == 303, r.text[:2000]
    m = re.fullmatch(r"/finance/runs/(run_\w+)", r.headers["location"])
    assert m, r.headers["location"]
    return m.group(1)


def item_ids(html: str, prefix: str) -> list[str]:
    return re.findall(rf'<li class="item" id="{prefix}-(\w+)">', html)


async def lost_and_unexpected(app: Any, client: httpx.AsyncClient, keys: Keys) -> None:
    """A paid invoice, one whose webhook is lost, and a bank credit nobody expects."""
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    lost = await create_invoice(client, keys.etat_civil, amount=4200, reference="EC-1")
    await pay(client, lost)
    async with app.state.db.session() as s:
        await s.execute(text("DELETE FROM webhook_inbox WHERE status = 'pending'"))
        await s.commit()


async def test_a_run_from_the_pages_shows_its_discrepancies_and_they_can_be_resolved(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    await lost_and_unexpected(app, client, keys)
    csrf = await signed_in(client, keys)
    r = await upload(client, csrf, camt([("BNK-1", "123.45", "SUBVENTION")]), "releve.xml")
    assert r.status_code == 303 and r.headers["location"].startswith("/finance/bank-statements?")
    listing = await client.get(r.headers["location"])
    assert "releve.xml importé\u00a0: 1 écriture(s), 0 doublon(s)." in unescape(listing.text)
    assert IBAN in listing.text

    run_id = run_id_of(await start(client, csrf))
    page = await client.get(f"/finance/runs/{run_id}")
    assert page.status_code == 200
    words = page_text(page)
    assert f"42,00{NBSP}€ · Absent du grand livre" in words
    assert f"123,45{NBSP}€ · Crédit bancaire inattendu" in words
    assert "BNK-1" in words
    assert f"Éléments rapprochés{NBSP}: 1{NBSP}; paiements{NBSP}: 25,00{NBSP}€" in words
    discrepancies = item_ids(page.text, "d")
    assert len(discrepancies) == 2
    credit = next(
        d
        for d in discrepancies
        if "Crédit bancaire inattendu" in page.text.split(f'id="d-{d}"')[1][:400]
    )

    resolve = f"/finance/runs/{run_id}/discrepancies/{credit}/resolve"
    r = await client.post(resolve, data={"csrf": csrf, "note": "   "})
    assert r.status_code == 422
    assert "Écrivez une note pour résoudre cet écart." in unescape(r.text)
    r = await client.post(resolve, data={"note": "Subvention de l'État"})  # no CSRF token
    assert r.status_code == 403
    r = await client.post(resolve, data={"csrf": csrf, "note": "Subvention de l'État, titre 42"})
    assert r.status_code == 303 and r.headers["location"].endswith(f"?done=resolved#d-{credit}")
    after = await client.get(f"/finance/runs/{run_id}?done=resolved")
    assert "L'écart est résolu." in unescape(after.text)
    assert item_ids(after.text, "d") == [d for d in discrepancies if d != credit]  # open only
    everything = await client.get(f"/finance/runs/{run_id}?show=all")
    assert "Subvention de l'État, titre 42" in unescape(everything.text)
    assert "Résolu" in everything.text

    # healing fetches the lost event; the next run has nothing open, the resolution holds
    r = await client.post(f"/finance/runs/{run_id}/heal", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"].endswith("?done=healed&n=1")
    again = run_id_of(await start(client, csrf))
    assert item_ids((await client.get(f"/finance/runs/{again}")).text, "d") == []
    page = await client.get(f"/finance/runs/{again}?show=all")
    words = page_text(page)
    assert "Absent du grand livre" not in words
    assert "Subvention de l'État, titre 42" in words and "Résolu" in words

    runs = await client.get("/finance/runs")
    assert runs.text.count('role="img"') == 1  # one currency, one chart
    assert 'aria-labelledby="chart-eur-title chart-eur-desc"' in runs.text
    assert "Montants par rapprochement, du plus récent (EUR)" in runs.text
    # what a run found in discrepancies: resolved since apart from what is still open
    shown = unescape(runs.text)
    assert f">67,00{NBSP}€ rapprochés</text>" in shown
    assert f">0,00{NBSP}€ en écart, 123,45{NBSP}€ résolus</text>" in shown
    assert f">25,00{NBSP}€ rapprochés</text>" in shown
    # the first run's lost payment was healed, not resolved: its 42,00 € stays open there
    assert f">42,00{NBSP}€ en écart, 123,45{NBSP}€ résolus</text>" in shown
    # runs of one period made in the same minute are told apart to the second
    assert len(re.findall(r"\(\d+ [^\s\d()]+ \d\d:\d\d:\d\d\)</th>", shown)) == 2

    dashboard = await client.get("/finance/")
    assert re.search(r'<strong class="big-number">0</strong>', dashboard.text)
    assert f'href="/finance/runs/{again}"' in dashboard.text


async def test_the_run_downloads_its_csv_and_pdf(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    await lost_and_unexpected(app, client, keys)
    csrf = await signed_in(client, keys)
    run_id = run_id_of(await start(client, csrf))
    r = await client.get(f"/finance/runs/{run_id}.csv")
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="reconciliation-' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["category"], x["amount"], x["status"]) for x in rows] == [
        ("missing_in_ledger", "42.00", "open")
    ]
    r = await client.get(f"/finance/runs/{run_id}.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert (await client.get("/finance/runs/run_nope")).status_code == 404
    assert (await client.get("/finance/runs/run_nope.csv")).status_code == 404
    client.cookies.clear()
    r = await client.get(f"/finance/runs/{run_id}.csv")
    assert r.status_code == 303  # the reports need a session like the pages


async def payout_named_by_an_off_credit(
    app: Any, client: httpx.AsyncClient, keys: Keys, csrf: str
) -> Any:
    """A payout, and a bank credit ``BNK-P`` that names it for one cent more: a suggestion.
    Returns the payout."""
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    made = await sim(app).pay_out()
    await app.state.applier.process_batch()
    payout = made[0].payout
    amount = payout.amount + 1
    statement = camt([("BNK-P", f"{amount // 100}.{amount % 100:02d}", f"VIR {payout.id}")])
    assert (await upload(client, csrf, statement, "releve.xml")).status_code == 303
    return payout


async def test_a_decision_without_a_note_is_signed_once(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    await payout_named_by_an_off_credit(app, client, keys, csrf)
    run_id = run_id_of(await start(client, csrf))
    (suggestion,) = item_ids((await client.get(f"/finance/runs/{run_id}")).text, "s")
    target = f"/finance/runs/{run_id}/suggestions/{suggestion}/confirm"
    assert (await client.post(target, data={"csrf": csrf, "note": ""})).status_code == 303
    words = page_text(await client.get(f"/finance/runs/{run_id}"))
    assert " Régie de recettes, clé finance rk_test_fin_…, le " in words
    assert "— —" not in words and "key_" not in words


@pytest.mark.parametrize(("action", "status"), [("confirm", "Confirmée"), ("reject", "Rejetée")])
async def test_a_suggestion_is_confirmed_or_rejected_from_its_form(
    app, client: httpx.AsyncClient, keys: Keys, action: str, status: str
) -> None:
    csrf = await signed_in(client, keys)
    await payout_named_by_an_off_credit(app, client, keys, csrf)
    run_id = run_id_of(await start(client, csrf))
    page = await client.get(f"/finance/runs/{run_id}")
    assert "Le crédit cite ce virement, mais son montant ou sa date diffère." in page.text
    assert "the credit names the payout" not in page.text
    (suggestion,) = item_ids(page.text, "s")
    confirm = f"/finance/runs/{run_id}/suggestions/{suggestion}/confirm"
    assert f'action="{confirm}"' in page.text  # one form, two buttons
    assert f'formaction="/finance/runs/{run_id}/suggestions/{suggestion}/reject"' in page.text
    target = f"/finance/runs/{run_id}/suggestions/{suggestion}/{action}"
    assert (await client.post(target, data={"csrf": "forged"})).status_code == 403
    r = await client.post(target, data={"csrf": csrf, "note": "vu avec la banque"})
    assert r.status_code == 303 and f"?done={action}#s-{suggestion}" in r.headers["location"]
    page = await client.get(f"/finance/runs/{run_id}")
    assert status in page.text and "vu avec la banque" in page.text
    # who ran and who decided: the key's service, role and printable prefix, never its id
    words = page_text(page)
    assert "via la clé finance de Régie de recettes (rk_test_fin_…), prestataire" in words
    assert "vu avec la banque — Régie de recettes, clé finance rk_test_fin_…, le" in words
    assert "key_" not in words
    assert f'action="{confirm}"' not in page.text  # decided: no form any more
    again = await client.get(f"/finance/runs/{run_id_of(await start(client, csrf))}")
    if action == "confirm":  # the next run matches what was confirmed
        assert item_ids(again.text, "s") == []
        assert "Absent du relevé bancaire" not in again.text
    else:  # a rejected pair is not suggested again
        assert item_ids(again.text, "s") == []


async def test_bank_statement_uploads_say_what_happened(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    statement = camt([("BNK-1", "10.00", "A")])
    assert (await upload(client, csrf, statement, "a.xml")).status_code == 303
    r = await upload(client, csrf, statement, "a-again.xml")
    page = await client.get(r.headers["location"])
    assert "a.xml était déjà importé\u00a0: rien n'a été compté deux fois." in unescape(page.text)
    r = await upload(client, csrf, b"not xml at all", "notes.txt")
    assert r.status_code == 422
    assert "Ce fichier ne peut pas être lu\u00a0: notes.txt" in unescape(r.text)
    assert 'aria-invalid="true"' in r.text
    r = await client.post("/finance/bank-statements", data={"csrf": csrf})
    assert r.status_code == 422 and "Choisissez un fichier." in r.text
    r = await upload(client, "forged", statement, "b.xml")
    assert r.status_code == 403
    listing = await client.get("/finance/bank-statements")
    assert listing.text.count('<th scope="row">') == 1  # one import, counted once


async def test_a_statement_imported_after_midnight_in_paris_is_dated_that_paris_day(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The statements page dated an import by its UTC day: one imported at 00:30 in Paris
    on 5 December (23:30 UTC on the 4th) read "4 décembre", where the run that used it
    says "importé le 5 décembre" and every other page gives the Paris day."""
    csrf = await signed_in(client, keys)
    assert (await upload(client, csrf, camt([("BNK-1", "10.00", "A")]), "a.xml")).status_code == 303
    async with app.state.db.session() as s:
        await s.execute(
            update(BankStatementImport).values(
                created_at=dt.datetime(2026, 12, 4, 23, 30, tzinfo=dt.UTC)
            )
        )
        await s.commit()
    for lang, label, day in (
        ("fr", "Importé le", "5 décembre 2026"),
        ("en", "Imported", "5 December 2026"),
    ):
        html = (await client.get(f"/finance/bank-statements?lang={lang}")).text
        cells = re.findall(rf'data-label="{label}">([^<]*)</td>', html)
        assert cells == [day], cells


async def test_a_refused_run_says_why_and_stores_nothing(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    csrf = await signed_in(client, keys)
    r = await client.post(
        "/finance/runs", data={"csrf": csrf, "period_from": "2999-01-01", "period_to": "2999-01-31"}
    )
    assert r.status_code == 422 and "La période est dans le futur" in r.text
    r = await client.post(
        "/finance/runs", data={"csrf": csrf, "period_from": "2026-10-31", "period_to": "2026-10-01"}
    )
    assert r.status_code == 422 and "Cette date est avant la date de début." in r.text
    r = await client.post("/finance/runs", data={"csrf": csrf, "period_from": "31/10/2026"})
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text
    r = await client.post(
        "/finance/runs", data={"csrf": csrf, "period_from": "2019-01-01", "period_to": "2019-01-31"}
    )
    assert r.status_code == 422 and "Rien à rapprocher du 1er janvier 2019" in r.text  # French
    bad_csv = b"balance_transaction_id,currency,gross\ntxn_1,eur,10.00\n"
    r = await start(client, csrf, stripe_csv=("payouts.csv", bad_csv, "text/csv"))
    assert r.status_code == 422 and "Ce fichier ne peut pas être lu\u00a0: payouts.csv" in unescape(
        r.text
    )
    page = await client.get("/finance/runs")
    assert "Aucun rapprochement pour l'instant." in unescape(page.text)


async def test_with_every_discrepancy_resolved_the_open_list_says_none_is_open(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    csrf = await signed_in(client, keys)
    clean = run_id_of(await start(client, csrf))  # the payment matched: no discrepancy at all
    assert "Aucun écart." in page_text(await client.get(f"/finance/runs/{clean}"))
    r = await upload(client, csrf, camt([("BNK-1", "123.45", "SUBVENTION")]), "releve.xml")
    assert r.status_code == 303
    run_id = run_id_of(await start(client, csrf))
    (credit,) = item_ids((await client.get(f"/finance/runs/{run_id}")).text, "d")
    resolve = f"/finance/runs/{run_id}/discrepancies/{credit}/resolve"
    r = await client.post(resolve, data={"csrf": csrf, "note": "Subvention"})
    assert r.status_code == 303
    fr = page_text(await client.get(f"/finance/runs/{run_id}"))
    assert "Aucun écart ouvert." in fr and "Aucun écart." not in fr
    en = page_text(await client.get(f"/finance/runs/{run_id}?lang=en"))
    assert "No open discrepancy." in en and "No discrepancy." not in en
    # all of them: the resolved one is listed
    assert item_ids((await client.get(f"/finance/runs/{run_id}?show=all")).text, "d") == [credit]


async def test_a_report_repeating_a_line_is_refused_by_the_page_with_its_line(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """The upload's refusal says the file and line (on PostgreSQL, the bulk path's)."""
    from tests.reconciliation.test_run_refusals import GOOD_LINES, HEADER

    csrf = await signed_in(client, keys)
    report = (HEADER + "\n".join([*GOOD_LINES, GOOD_LINES[0]]) + "\n").encode()
    r = await start(client, csrf, stripe_csv=("payouts.csv", report, "text/csv"))
    assert r.status_code == 422
    said = "payouts.csv, ligne 5\u00a0: la transaction de solde txn_0 est déjà à la ligne 2"
    assert said in unescape(r.text)  # in the page's language
    page = await client.get("/finance/runs")
    assert "Aucun rapprochement pour l'instant." in unescape(page.text)


async def test_two_runs_of_a_period_in_the_same_minute_are_told_apart_by_their_second(
    app, client: httpx.AsyncClient, keys: Keys
) -> None:
    """The runs table and the dashboard showed two runs of a period made in the same minute
    with the same text: the time of a run is given to the second."""
    await paid_invoice(client, app, keys.urbanisme, reference="A", amount=2500)
    csrf = await signed_in(client, keys)
    first = run_id_of(await start(client, csrf))
    second = run_id_of(await start(client, csrf))
    async with app.state.db.session() as s:  # one second apart, within one minute
        for run_id, second_of in ((first, 10), (second, 11)):
            await s.execute(
                update(ReconRun)
                .where(col(ReconRun.id) == run_id)
                .values(created_at=dt.datetime(2026, 12, 3, 9, 30, second_of, tzinfo=dt.UTC))
            )
        await s.commit()
    for path in ("/finance/runs", "/finance/"):
        words = page_text(await client.get(path))
        assert "3 décembre 2026 à 10:30:10" in words and "3 décembre 2026 à 10:30:11" in words
    words = page_text(await client.get("/finance/runs?lang=en"))
    assert "3 December 2026, 10:30:11" in words
