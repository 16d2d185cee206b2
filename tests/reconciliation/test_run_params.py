"""The reconciliation API's parameters are never ignored silently: an unknown or repeated
field, a date that is not "YYYY-MM-DD", a NUL, a body nested too deep, a note with nothing
visible in it, a statement sent as another media type or named in another alphabet than
the header can carry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from regie.kit.database import utcnow
from regie.kit.settings import Settings
from tests.conftest import Keys, create_invoice, pay
from tests.reconciliation.test_reconcile_api import IBAN, camt


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN)  # type: ignore[no-any-return]


def _today() -> str:
    return utcnow().date().isoformat()


async def _nothing_stored(client: httpx.AsyncClient, fin: dict[str, str]) -> None:
    assert (await client.get("/v1/reconciliations", headers=fin)).json()["data"] == []
    assert (await client.get("/v1/bank-statements", headers=fin)).json()["data"] == []


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"asof": "2026-12-31"}, "parameter_unknown", "asof"),
        ({"period_from": 1796083200}, "parameter_invalid", "period_from"),
        ({"period_to": "2026-12-31T00:00:00"}, "parameter_invalid", "period_to"),
        ({"as_of": "20261231"}, "parameter_invalid", "as_of"),
        ({"as_of": "2000-01-01"}, "period_invalid", "as_of"),  # before the period
    ],
)
async def test_a_json_run_refuses_what_it_would_ignore_or_misread(
    client: httpx.AsyncClient, keys: Keys, body: dict[str, Any], code: str, param: str
) -> None:
    fin = Keys.h(keys.finance)
    sent = {"period_from": _today(), "period_to": _today(), **body}
    r = await client.post("/v1/reconciliations", json=sent, headers=fin)
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == (code, param)
    await _nothing_stored(client, fin)


async def test_a_json_body_nested_too_deep_is_a_400(client: httpx.AsyncClient, keys: Keys) -> None:
    fin = {**Keys.h(keys.finance), "content-type": "application/json"}
    r = await client.post("/v1/reconciliations", content=b"[" * 1000 + b"]" * 1000, headers=fin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text
    # a JSON run is no file upload: over the 64 KiB body limit it is not even read
    r = await client.post("/v1/reconciliations", content=b"[" * 100000 + b"]" * 100000, headers=fin)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large", r.text


def _xml(ref: str = "BNK-1") -> tuple[str, bytes, str]:
    return ("ok.xml", camt([(ref, "2.00", "Y")]), "application/xml")


@pytest.mark.parametrize(
    ("data", "files", "status", "code", "param"),
    [
        ({}, [("camt", _xml())], 422, "parameter_unknown", "camt"),
        ({"asof": "2026-12-31"}, [], 422, "parameter_unknown", "asof"),
        ({"period_from": ["2026-11-01", "2026-11-02"]}, [], 422, "parameter_invalid", "period_from"),
        ({}, [("stripe_csv", ("a.csv", b"x", "text/csv")), ("stripe_csv", ("b.csv", b"y", "text/csv"))],
         422, "parameter_invalid", "stripe_csv"),
        ({"provider": "sim\x00ulator"}, [], 400, "invalid_character", "provider"),
        ({"period_from": "1796083200"}, [], 422, "parameter_invalid", "period_from"),
        # a report sent as a text field is not a report (it said "Extra inputs")
        ({"stripe_csv": "automatic_payout_id,gross"}, [], 422, "parameter_invalid", "stripe_csv"),
    ],
)  # fmt: skip
async def test_a_multipart_run_refuses_what_it_would_ignore(
    client: httpx.AsyncClient,
    keys: Keys,
    data: dict[str, Any],
    files: list[Any],
    status: int,
    code: str,
    param: str,
) -> None:
    fin = Keys.h(keys.finance)
    form = {"period_from": _today(), "period_to": _today(), **data}
    files = files or [("camt053", _xml())]
    r = await client.post("/v1/reconciliations", data=form, files=files, headers=fin)
    assert r.status_code == status, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == (code, param)
    await _nothing_stored(client, fin)


async def test_two_statements_are_still_one_run(client: httpx.AsyncClient, keys: Keys) -> None:
    fin = Keys.h(keys.finance)
    files = [("camt053", _xml("BNK-1")),
             ("camt053", ("two.xml", camt([("BNK-2", "3.00", "Z")], stmt="S2", seq=2), "text/xml"))]  # fmt: skip
    r = await client.post(
        "/v1/reconciliations", data={"period_from": _today(), "period_to": _today()},
        files=files, headers=fin,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert [s["kind"] for s in r.json()["sources"]] == ["psp", "camt053", "camt053"]


async def _a_run_with_a_discrepancy(client: httpx.AsyncClient, keys: Keys) -> tuple[str, str]:
    fin = Keys.h(keys.finance)
    await pay(client, await create_invoice(client, keys.urbanisme, amount=1200))
    r = await client.post(
        "/v1/reconciliations", json={"period_from": _today(), "period_to": _today()}, headers=fin
    )
    run = r.json()
    return run["id"], run["discrepancies"][0]["id"]


async def test_a_note_is_named_when_missing_or_misspelled_or_invisible(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    run_id, dsc = await _a_run_with_a_discrepancy(client, keys)
    url = f"/v1/reconciliations/{run_id}/discrepancies/{dsc}/resolve"
    r = await client.post(url, headers=fin)
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("parameter_missing", "note")
    r = await client.post(url, json={"nte": "vu"}, headers=fin)
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == ("parameter_unknown", "nte")
    for invisible in ("\u200b\u200b", " \u2060\ufeff ", "\u00a0\u3000"):
        r = await client.post(url, json={"note": invisible}, headers=fin)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["param"] == "note"
    r = await client.post(url, json={"note": "vu \u200b"}, headers=fin)
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/v1/reconciliations/{run_id}/suggestions/sug_nope/reject", json={"nte": "x"}, headers=fin
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "parameter_unknown"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"content-type": "application/json"}, 415, "content_type_invalid"),
        ({"content-type": "text/plain"}, 415, "content_type_invalid"),
        ({}, 415, "content_type_invalid"),
    ],
)
async def test_a_statement_in_another_media_type_is_a_415(
    client: httpx.AsyncClient, keys: Keys, headers: dict[str, str], status: int, code: str
) -> None:
    fin = Keys.h(keys.finance)
    r = await client.post(
        "/v1/bank-statements", content=camt([("BNK-1", "2.00", "Y")]), headers={**fin, **headers}
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    await _nothing_stored(client, fin)


@pytest.mark.parametrize("ctype", ["application/xml", "text/xml; charset=utf-8",
                                   "application/octet-stream"])  # fmt: skip
async def test_a_statement_as_xml_is_imported_named_in_utf8(
    client: httpx.AsyncClient, keys: Keys, ctype: str
) -> None:
    fin = Keys.h(keys.finance)
    r = await client.post(
        "/v1/bank-statements", content=camt([("BNK-1", "2.00", "Y")]),
        headers={**fin, "content-type": ctype, "x-filename": "r%C3%A9lev%C3%A9.xml"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "rélevé.xml"


async def test_a_statement_name_the_header_cannot_carry_is_refused(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    fin = Keys.h(keys.finance)
    r = await client.post(
        "/v1/bank-statements", content=camt([("BNK-1", "2.00", "Y")]),
        headers={**fin, "content-type": "application/xml", "x-filename": "rélevé.xml".encode()},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["code"], r.json()["error"]["param"]) == (
        "parameter_invalid", "X-Filename")  # fmt: skip
    assert "percent-encoded" in r.json()["error"]["message"]
    await _nothing_stored(client, fin)


async def test_a_statement_name_keeps_no_control_character(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """A file's name is said in messages, pages and ``regie reconcile``'s one-line summary
    of a later run (on a terminal): a new line, an escape sequence (which a terminal would
    obey) or a right-to-left override (``gpj.xml`` read backwards) in it is dropped, through
    the header, a multipart upload and the workspace's form alike."""
    from tests.finance.test_runs import signed_in

    fin = Keys.h(keys.finance)
    r = await client.post(
        "/v1/bank-statements", content=camt([("BNK-1", "2.00", "Y")]),
        headers={**fin, "content-type": "application/xml", "x-filename": "a%0Ab%1B%5B31m.xml"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "ab[31m.xml"
    r = await client.post(
        "/v1/bank-statements",
        files={"file": ("c\x1b[2Jd\u202egpj.xml", camt([("BNK-2", "3.00", "Y")]), "text/xml")},
        headers=fin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "c[2Jdgpj.xml"
    csrf = await signed_in(client, keys)
    r = await client.post(
        "/finance/bank-statements",
        data={"csrf": csrf},
        files={"camt053": ("e\x1b]0;x\u2028f.xml", camt([("BNK-3", "4.00", "Y")]), "text/xml")},
    )
    assert r.status_code == 303, r.text
    names = [
        i["filename"] for i in (await client.get("/v1/bank-statements", headers=fin)).json()["data"]
    ]
    assert "e]0;xf.xml" in names, names
