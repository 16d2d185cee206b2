"""``Idempotency-Key`` and the README agree (issue 11): the README names the POSTs that
honour the header (exactly those whose OpenAPI operation declares it), says what happens
when it is left out, and its own curl commands send a key to every one of them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from regie.openapi import current_schema
from tests.conftest import Keys, create_invoice, invoice_body, pay

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _rule() -> str:
    """The README's bullet on Idempotency-Key, in "API" / "Rules worth knowing"."""
    m = re.search(r"^- `Idempotency-Key`.*?(?=^- |^\S)", README, re.MULTILINE | re.DOTALL)
    assert m, "README: no rule on Idempotency-Key"
    return m.group(0)


def _honouring() -> set[str]:
    out = set()
    for path, operations in current_schema()["paths"].items():
        post = operations.get("post")
        if post and any(
            p.get("in") == "header" and p["name"].lower() == "idempotency-key"
            for p in post.get("parameters", [])
        ):
            out.add(path)
    return out


def _route_pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]+\}", path)
    return re.compile("^" + r"[^/]+".join(re.escape(p) for p in parts) + "$")


def test_the_readme_names_exactly_the_posts_that_honour_the_key() -> None:
    rule = _rule()
    named = set(re.findall(r"`POST (/[^`]+)`", rule.split("It may be left out")[0]))
    as_in_readme = {re.sub(r"\{[^}]+\}", "{id}", p) for p in _honouring()}
    assert {re.sub(r"\{[^}]+\}", "{id}", p) for p in named} == as_in_readme, rule
    # and what happens without one, and that the other POSTs ignore it
    assert "left out" in rule and "runs each time" in rule, rule
    assert "do not read the header" in rule, rule


def test_the_readmes_curl_commands_send_a_key_where_it_is_honoured() -> None:
    routes = [_route_pattern(p) for p in _honouring()]
    commands = re.findall(r"^curl .*?(?<!\\)$", README, re.MULTILINE | re.DOTALL)
    posting = 0
    for command in commands:
        url = re.search(r"http://127\.0\.0\.1:8000(/[^\s\"?]*)", command)
        assert url, command
        is_post = re.search(r"-X POST|\s-d\s|\s-F\s", command) is not None
        if not is_post or not any(r.match(url.group(1)) for r in routes):
            continue
        posting += 1
        assert re.search(r'-H "Idempotency-Key: [^"]+"', command), command
    assert posting >= 4  # invoices (twice), cancel, refund, webhook endpoint


async def test_without_a_key_a_retried_creation_is_refused_by_its_reference(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    """What the README says happens when the key is left out."""
    first = await create_invoice(client, keys.urbanisme)
    r = await client.post("/v1/invoices", json=invoice_body(), headers=Keys.h(keys.urbanisme))
    assert r.status_code == 409 and r.json()["error"]["code"] == "reference_already_used"
    found = await client.get(
        "/v1/invoices", params={"reference": first["reference"]}, headers=Keys.h(keys.urbanisme)
    )
    assert [i["id"] for i in found.json()["data"]] == [first["id"]]


async def test_without_a_key_a_retried_refund_with_its_expectation_refunds_nothing(
    client: httpx.AsyncClient, app: Any, keys: Keys
) -> None:
    inv = await create_invoice(client, keys.urbanisme)
    await pay(client, inv, apply=app)
    body = {"amount": 1000, "expected_refundable_amount": 2500}
    url = f"/v1/invoices/{inv['id']}/refunds"
    first = await client.post(url, json=body, headers=Keys.h(keys.urbanisme))
    assert first.status_code in (201, 202), first.text
    again = await client.post(url, json=body, headers=Keys.h(keys.urbanisme))
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "refundable_amount_mismatch"
    listed = await client.get(url, headers=Keys.h(keys.urbanisme))
    assert len(listed.json()["data"]) == 1
