"""Only the four routes that take files get REGIE_MAX_UPLOAD_BYTES, and only for a request
that carries their credential and sends a file's media type: the sign-in and sign-out forms,
the decisions' forms, a JSON run and a request without a key or a session get
REGIE_MAX_BODY_BYTES (64 KiB). A security review sent 45 MB to /finance/login and
/finance/logout, and raw XML to /v1/bank-statements without a key: each was read whole into
memory (tens of MB a request) before being refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from regie.kit.middleware import Upload
from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.finance.conftest import sign_in
from tests.finance.test_runs import signed_in
from tests.reconciliation.test_reconcile_api import IBAN

BIG = 200 * 1024  # over the 64 KiB default, under the upload limit below


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    return settings_factory(bank_iban=IBAN, max_upload_bytes=1024 * 1024)  # type: ignore[no-any-return]


def too_large(r: httpx.Response) -> bool:
    return r.status_code == 413


async def test_the_sign_in_and_sign_out_forms_take_no_large_body(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = await client.post("/finance/login", content=b"x=" + b"a" * BIG, headers=form)
    assert too_large(r), (r.status_code, r.text[:200])
    r = await client.post(
        "/finance/logout", content=b"a" * BIG, headers={"content-type": "text/plain"}
    )
    assert too_large(r), (r.status_code, r.text[:200])
    # signed in, a decision's form is no upload either
    csrf = await signed_in(client, keys)
    r = await client.post(
        "/finance/runs/run_x/discrepancies/dsc_x/resolve",
        data={"csrf": csrf, "note": "a" * BIG},
    )
    assert too_large(r), (r.status_code, r.text[:200])
    r = await client.post("/finance/logout", data={"csrf": csrf})  # a small form still works
    assert r.status_code == 303 and r.headers["location"].startswith("/finance/login")
    assert (await sign_in(client, keys.finance)).status_code == 303


async def test_a_statement_without_a_key_is_not_read_past_the_default_limit(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    xml = {"content-type": "application/xml"}
    body = b"<x>" + b"a" * BIG + b"</x>"
    assert too_large(await client.post("/v1/bank-statements", content=body, headers=xml))
    forged = {**xml, "authorization": "Bearer rk_test_fin_not_a_key"}
    r = await client.post("/v1/bank-statements", content=body, headers=forged)
    assert r.status_code == 401, r.text[:200]  # a key is there: read, then refused as a key
    mine = {**xml, "authorization": f"Bearer {keys.finance}"}
    r = await client.post("/v1/bank-statements", content=body, headers=mine)
    assert r.status_code == 422 and r.json()["error"]["code"] != "body_too_large", r.text[:200]


async def test_a_run_takes_a_large_file_but_not_a_large_json_body(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    auth = {"authorization": f"Bearer {keys.finance}"}
    big_json = (
        b'{"period_from": "2026-10-01", "period_to": "2026-10-31", "x": "' + b"a" * BIG + b'"}'
    )
    r = await client.post(
        "/v1/reconciliations",
        content=big_json,
        headers={**auth, "content-type": "application/json"},
    )
    assert too_large(r), (r.status_code, r.text[:200])
    csv = b"not,a,report\n" + b"a" * BIG
    r = await client.post(
        "/v1/reconciliations",
        data={"period_from": "2026-10-01", "period_to": "2026-10-31"},
        files={"stripe_csv": ("p.csv", csv, "text/csv")},
        headers=auth,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] != "body_too_large", r.text[:200]


async def test_the_workspace_uploads_take_a_large_file_only_in_a_session(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    files = {"camt053": ("big.xml", b"a" * BIG, "application/xml")}
    r = await client.post("/finance/bank-statements", data={"csrf": "x"}, files=files)
    assert too_large(r), (r.status_code, r.text[:200])
    csrf = await signed_in(client, keys)
    r = await client.post("/finance/bank-statements", data={"csrf": csrf}, files=files)
    assert r.status_code == 422, (r.status_code, r.text[:200])  # read, and refused as no XML


@pytest.mark.parametrize(
    ("cookie", "admitted"),
    [
        (b"regie_finance=abc", True),
        (b"theme=dark; regie_finance=abc", True),
        (b"theme=dark;regie_finance=abc;lang=fr", True),
        (b"xregie_finance=abc", False),  # another cookie whose name ends like the session's
        (b"theme=regie_finance=abc", False),  # the session's name inside another's value
        (b"regie_finance", False),  # a name without a value is no cookie of that name
        (b"", False),
    ],
)
def test_a_file_is_admitted_only_with_the_session_cookie_itself(
    cookie: bytes, admitted: bool
) -> None:
    upload = Upload(("multipart/form-data",), cookie="regie_finance")
    headers = {b"content-type": b"multipart/form-data; boundary=x", b"cookie": cookie}
    assert upload.admits(headers) is admitted
    assert not upload.admits({**headers, b"content-type": b"application/json"})
