"""What the fuzz run (tests/fuzz/test_schemathesis.py) found, pinned as plain tests.

- a 405 carries ``Allow`` naming every method of the path (RFC 9110), not only the methods
  of the first route Starlette tried;
- every operation documents the 400 the edge guard may answer (a NUL character anywhere),
  and every 4xx/5xx it documents has the one error shape as its body;
- a date-time query parameter is an ISO 8601 text, not a number (pydantic's lax mode read
  ``created_lt=0.5`` as 1970-01-01T00:00:00.5Z);
- the ``Idempotency-Key`` header's rule is in the schema, so a client (or a fuzzer) can
  know what is valid;
- every ``$ref`` of openapi.yaml resolves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Keys

ROOT = Path(__file__).resolve().parents[2]
SPEC: dict[str, Any] = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _example_path(template: str) -> str:
    return template.replace("{", "x").replace("}", "")


@pytest.mark.parametrize("path", sorted(SPEC["paths"]))
async def test_a_405_carries_allow_with_every_method_of_the_path(
    client, keys: Keys, path: str
) -> None:
    declared = {m.upper() for m in SPEC["paths"][path] if m in HTTP_METHODS}
    undeclared = sorted({"DELETE", "PATCH", "PUT", "TRACE"} - declared)[0]
    r = await client.request(
        undeclared, _example_path(path), headers=Keys.h(keys.finance), content=b""
    )
    assert r.status_code == 405, (path, r.status_code, r.text)
    assert r.json()["error"]["code"] == "method_not_allowed"
    allow = {m.strip() for m in r.headers.get("allow", "").split(",") if m.strip()}
    assert allow == declared, (path, r.headers.get("allow"))


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in SPEC["paths"].items()
        for method, op in item.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_documents_the_edge_guards_400() -> None:
    missing = [f"{m.upper()} {p}" for p, m, op in _operations() if "400" not in op["responses"]]
    assert missing == []


def test_every_documented_error_has_the_one_error_shape() -> None:
    bare = [
        f"{m.upper()} {p} {status}"
        for p, m, op in _operations()
        for status, response in op["responses"].items()
        if int(status) >= 400
        and response.get("content", {}).get("application/json", {}).get("schema")
        != {"$ref": "#/components/schemas/ErrorResponse"}
    ]
    assert bare == []
    shape = SPEC["components"]["schemas"]["ErrorResponse"]
    assert shape["required"] == ["error"]


def _refs(doc: Any) -> list[str]:
    if isinstance(doc, dict):
        own = [doc["$ref"]] if isinstance(doc.get("$ref"), str) else []
        return own + [r for v in doc.values() for r in _refs(v)]
    if isinstance(doc, list):
        return [r for v in doc for r in _refs(v)]
    return []


def test_every_ref_of_the_spec_resolves() -> None:
    def resolve(ref: str) -> bool:
        node: Any = SPEC
        for part in ref.removeprefix("#/").split("/"):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    assert sorted({r for r in _refs(SPEC) if not resolve(r)}) == []


def test_the_idempotency_key_rule_is_in_the_schema() -> None:
    found = [
        p["schema"]
        for _, _, op in _operations()
        for p in op.get("parameters", [])
        if p["name"] == "Idempotency-Key"
    ]
    assert found
    for schema in found:
        string = next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "string")
        text = {**schema, **string}  # the rule may sit beside the anyOf: it binds strings only
        assert (text["minLength"], text["maxLength"], text["pattern"]) == (
            1,
            255,
            "^[ -~]+$",
        )


@pytest.mark.parametrize(
    "query",
    [
        "/v1/invoices?created_lt=0.5",
        "/v1/invoices?created_gte=1700000000",
        "/v1/ledger/accounts?as_of=0.5",
        "/v1/ledger/entries?effective_lt=1e3",
        "/v1/ledger/entries?effective_gte=-12",
    ],
)
async def test_a_number_is_not_a_date_time(client, keys: Keys, query: str) -> None:
    r = await client.get(query, headers=Keys.h(keys.finance))
    assert r.status_code == 422, r.text
    body = r.json()["error"]
    assert body["code"] == "parameter_invalid"
    assert body["param"] == query.split("?")[1].split("=")[0]


async def test_an_iso_date_time_is_still_read(client, keys: Keys) -> None:
    r = await client.get(
        "/v1/ledger/accounts?as_of=2026-11-24T00:00:00Z", headers=Keys.h(keys.finance)
    )
    assert r.status_code == 200, r.text
    assert json.loads(r.text)["as_of"].startswith("2026-11-24T00:00:00")
