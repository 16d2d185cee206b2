"""Reconciliation through the API, on SQLite and PostgreSQL: runs, discrepancies found with
their amounts, decisions that hold in the next run, imports that never count twice, and bad
input refused with nothing stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay

IBAN = "FR7630006000011234567890189"


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    """regie's bank account is known, and uploads are capped low to test the cap."""
    return settings_factory(bank_iban=IBAN, max_upload_bytes=4096)  # type: ignore[no-any-return]


def camt(entries: list[tuple[str, str, str]], *, stmt: str = "STMT-1", seq: int = 1,
         iban: str = IBAN, ccy: str = "EUR", day: dt.date | None = None) -> bytes:  # fmt: skip
    """A camt.053.001.08 with booked entries (reference, amount, remittance)."""
    day = day or utcnow().date()
    total = sum(int(a.replace(".", "")) for _, a, _ in entries)
    ntry = "".join(
        f'<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="{ccy}">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
        f"<Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>{ref}</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>{text}</Ustrd></RmtInf>"
        "</TxDtls></NtryDtls></Ntry>"
        for ref, amount, text in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>MSG-{stmt}</MsgId><CreDtTm>{day}T06:00:00Z</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{stmt}</Id><ElctrncSeqNb>{seq}</ElctrncSeqNb>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{ccy}</Ccy></Acct>"
        f'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">0.00</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
        f'<Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{total // 100}.{total % 100:02d}</Amt>'
        f"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
        f"{ntry}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def _upload(client: httpx.AsyncClient, key: str, data: bytes, name: str = "releve.xml") -> Any:
    return client.post("/v1/bank-statements", files={"file": (name, data, "application/xml")},
                       headers=Keys.h(key))  # fmt: skip


def _period() -> dict[str, str]:
    today = utcnow().date().isoformat()
    return {"period_from": today, "period_to": today}


async def test_finance_keys_only(client: httpx.AsyncClient, keys: Keys) -> None:
    for key in (keys.urbanisme, keys.admin):
        r = await client.post("/v1/reconciliations", json=_period(), headers=Keys.h(key))
        assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_role"
        assert (await client.get("/v1/bank-statements", headers=Keys.h(key))).status_code == 403
    assert (await client.get("/v1/reconciliations")).status_code == 401


async def test_run_finds_planted_faults_and_decisions_hold(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    paid = await create_invoice(client, keys.urbanisme, amount=2500)
    await pay(client, paid, apply=app)
    lost = await create_invoice(client, keys.etat_civil, amount=4200, reference="EC-1")
    await pay(client, lost)
    async with app.state.db.session() as s:  # its webhook is lost: the ledger never hears of it
        await s.execute(text("DELETE FROM webhook_inbox WHERE status = 'pending'"))
        await s.commit()
    r = await _upload(client, keys.finance, camt([("BNK-1", "123.45", "SUBVENTION")]))
    assert r.status_code == 201, r.text
    r = await client.post("/v1/reconciliations", json=_period(), headers=fin)
    assert r.status_code == 201, r.text
    run = r.json()
    found = sorted((d["category"], d["amount"], d["currency"]) for d in run["discrepancies"])
    assert found == [("missing_in_ledger", 4200, "EUR"), ("unexpected_bank_credit", 12345, "EUR")]
    assert run["summary"]["matched_count"] == 1
    assert run["summary"]["matched_amount"] == {"EUR": 2500}
    assert run["summary"]["open"] == 2
    credit = next(d for d in run["discrepancies"] if d["category"] == "unexpected_bank_credit")
    assert credit["bank_reference"] == "BNK-1"
    base = f"/v1/reconciliations/{run['id']}/discrepancies/{credit['id']}/resolve"
    r = await client.post(base, json={"note": "  "}, headers=fin)
    assert r.status_code == 422 and r.json()["error"]["param"] == "note"
    r = await client.post(base, json={"note": "Subvention de l'État, titre 42"}, headers=fin)
    assert r.status_code == 200 and r.json()["action"] == "resolve"
    # heal: fetch the lost event from the PSP, apply it through the normal path, run again
    r = await client.post(f"/v1/reconciliations/{run['id']}/heal", headers=fin)
    assert r.status_code == 200 and r.json() == {"missing_in_ledger": 1, "events": 1}
    r = await client.post("/v1/reconciliations", json=_period(), headers=fin)
    again = r.json()
    assert [(d["category"], d["status"]) for d in again["discrepancies"]] == [
        ("unexpected_bank_credit", "resolved")
    ]
    assert again["discrepancies"][0]["resolution"]["note"] == "Subvention de l'État, titre 42"
    assert again["summary"]["open"] == 0 and again["summary"]["matched_count"] == 2
    # the same inputs, the same checksum; a new decision supersedes, never deletes
    r = await client.post("/v1/reconciliations", json=_period(), headers=fin)
    assert r.json()["inputs_sha256"] == again["inputs_sha256"]
    listed = (await client.get("/v1/reconciliations", headers=fin)).json()["data"]
    assert [x["id"] for x in listed][1] == again["id"] and len(listed) == 3
    csv_ = await client.get(f"/v1/reconciliations/{run['id']}.csv", headers=fin)
    assert csv_.status_code == 200 and csv_.headers["content-type"].startswith("text/csv")
    rows = csv_.content.decode("utf-8-sig").splitlines()
    assert rows[0].startswith("id,category,status,amount,currency")
    assert any(",unexpected_bank_credit,resolved,123.45,EUR," in x for x in rows)
    pdf = await client.get(f"/v1/reconciliations/{run['id']}.pdf", headers=fin)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (await client.get("/v1/reconciliations/run_nope", headers=fin)).status_code == 404


async def test_imports_never_count_twice(client: httpx.AsyncClient, keys: Keys) -> None:
    first = camt([("BNK-1", "10.00", "A"), ("BNK-2", "20.00", "B")])
    r1 = (await _upload(client, keys.finance, first)).json()
    assert (r1["entries"], r1["duplicates"], r1["already_imported"]) == (2, 0, False)
    r2 = (await _upload(client, keys.finance, first, "again.xml")).json()
    assert r2["already_imported"] is True and r2["id"] == r1["id"]
    overlap = camt([("BNK-2", "20.00", "B"), ("BNK-3", "5.50", "C")], stmt="STMT-2", seq=2)
    r3 = (await _upload(client, keys.finance, overlap, "overlap.xml")).json()
    assert (r3["entries"], r3["duplicates"], r3["problems"]) == (1, 1, [])
    gap = camt([("BNK-4", "1.00", "D")], stmt="STMT-5", seq=5)
    r4 = (await _upload(client, keys.finance, gap, "gap.xml")).json()
    assert any("sequence" in p for p in r4["problems"]), r4["problems"]
    listed = (await client.get("/v1/bank-statements", headers=Keys.h(keys.finance))).json()
    assert sum(x["entries"] for x in listed["data"]) == 4


async def test_bad_input_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    today = utcnow().date()
    future = (today + dt.timedelta(days=3)).isoformat()
    r = await client.post("/v1/reconciliations", json={"period_from": future, "period_to": future}, headers=fin)  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["code"] == "period_invalid"
    r = await client.post("/v1/reconciliations", json={"period_from": today.isoformat(), "period_to": "2020-01-01"}, headers=fin)  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["param"] == "period_to"
    r = await client.post("/v1/reconciliations", content=b'{"period_from": ', headers={**fin, "content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400
    r = await client.post("/v1/reconciliations", json={"period_from": "2019-01-01", "period_to": "2019-01-31"}, headers=fin)  # fmt: skip
    assert r.status_code == 422 and "Nothing to reconcile" in r.json()["error"]["message"]
    r = await _upload(client, keys.finance, b"not xml at all", "notes.txt")
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("notes.txt")
    other = camt([("BNK-9", "1.00", "X")], iban="DE89370400440532013000")
    r = await _upload(client, keys.finance, other, "autre.xml")
    assert r.status_code == 422
    assert r.json()["error"]["message"].startswith("autre.xml, line ")
    assert "not regie's bank account" in r.json()["error"]["message"]
    r = await _upload(client, keys.finance, camt([("BNK-9", "1.00", "X")], ccy="USD"), "usd.xml")
    assert r.status_code == 422 and "USD" in r.json()["error"]["message"]
    bad_csv = b"balance_transaction_id,currency,gross\ntxn_1,eur,10.00\n"
    r = await client.post(
        "/v1/reconciliations",
        data={"period_from": today.isoformat(), "period_to": today.isoformat()},
        files={"stripe_csv": ("payouts.csv", bad_csv, "text/csv"),
               "camt053": ("ok.xml", camt([("BNK-7", "2.00", "Y")]), "application/xml")},
        headers=fin,
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["param"] == "stripe_csv"
    assert r.json()["error"]["message"].startswith("payouts.csv")
    huge = b"<" * 5000
    r = await _upload(client, keys.finance, huge, "huge.xml")
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    # nothing of any refused file was stored, not even the good statement sent with a bad CSV
    listed = (await client.get("/v1/bank-statements", headers=fin)).json()
    assert listed["data"] == []
    assert (await client.get("/v1/reconciliations", headers=fin)).json()["data"] == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"\x89PNG\r\n\x1a\n\x00\xff"),  # found by schemathesis: a 500
        ("application/json", b"\xff\xfe not utf-8"),
        ("application/x-www-form-urlencoded", b"period_from=2026-01-01&period_to=2026-01-31"),
    ],
)
async def test_a_run_asked_in_another_media_type_or_undecodable_is_a_4xx(
    client: httpx.AsyncClient, keys: Keys, content_type: str, body: bytes
) -> None:
    r = await client.post(
        "/v1/reconciliations",
        content=body,
        headers=Keys.h(keys.finance, **{"Content-Type": content_type}),
    )
    assert r.status_code in (400, 415), r.text
    expected = 415 if content_type != "application/json" else 400
    assert r.status_code == expected, r.text
    assert r.json()["error"]["code"] in ("content_type_invalid", "invalid_json")
    runs = await client.get("/v1/reconciliations", headers=Keys.h(keys.finance))
    assert runs.json()["data"] == []


async def test_the_list_says_it_leaves_a_run_s_findings_out(
    app: Any, client: httpx.AsyncClient, keys: Keys
) -> None:
    """A listed run has no discrepancies or suggestions fields (not empty lists a client
    would read as none): its summary counts them, and GET /v1/reconciliations/{id} has them."""
    fin = Keys.h(keys.finance)
    r = await _upload(client, keys.finance, camt([("BNK-1", "123.45", "SUBVENTION")]))
    assert r.status_code == 201, r.text
    r = await client.post("/v1/reconciliations", json=_period(), headers=fin)
    assert r.status_code == 201, r.text
    run = r.json()
    assert len(run["discrepancies"]) == 1 and run["summary"]["open"] == 1
    (listed,) = (await client.get("/v1/reconciliations", headers=fin)).json()["data"]
    assert "discrepancies" not in listed and "suggestions" not in listed
    assert (listed["summary"]["discrepancies"], listed["summary"]["suggestions"]) == (1, 0)
    assert listed["summary"]["categories"] == run["summary"]["categories"]
    assert {
        k: v for k, v in run.items() if k not in ("discrepancies", "suggestions", "summary")
    } == {k: v for k, v in listed.items() if k != "summary"}
    got = (await client.get(f"/v1/reconciliations/{run['id']}", headers=fin)).json()
    assert got == run  # one run, whole, as before
    schema = app.openapi()["components"]["schemas"]
    item = schema["RunList"]["properties"]["data"]["items"]["$ref"].rsplit("/", 1)[1]
    assert "discrepancies" not in schema[item]["properties"]
    assert "/v1/reconciliations/{run_id}" in schema[item]["description"]
