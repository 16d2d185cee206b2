"""A JSON body the parser gives up on is ``400 invalid_json``, as README's error table says,
whatever the parser's reason.

A body that is not JSON was ``invalid_json``; one that the parser stopped reading for
another reason (bytes that are not UTF-8 inside a string, a number of thousands of digits,
nesting deeper than it goes, a gzip body regie does not inflate) was FastAPI's own
``400 http_error`` "There was an error parsing the body": another code for the same fault,
which a client matching on ``invalid_json`` missed.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest

from tests.conftest import Keys, invoice_body
from tests.payments.test_bad_input import assert_error, row_counts

GOOD = json.dumps(invoice_body()).encode()


@pytest.mark.parametrize(
    ("raw", "extra"),
    [
        (GOOD.replace(b"Permis", b"Perm\xe9s"), {}),  # Latin-1 inside a string
        (GOOD.replace(b"2500", b"9" * 5000), {}),  # beyond Python's digits limit
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, {}),  # under 64 KiB, too deep
        (b"[" * 30_000 + b"]" * 30_000, {}),
        (gzip.compress(GOOD), {"Content-Encoding": "gzip"}),
    ],
    ids=["latin-1", "5000-digits", "deep-objects", "deep-arrays", "gzip"],
)
async def test_a_body_the_parser_gives_up_on_is_400_invalid_json(
    client: httpx.AsyncClient, app: Any, keys: Keys, raw: bytes, extra: dict[str, str]
) -> None:
    before = await row_counts(app)
    resp = await client.post(
        "/v1/invoices",
        content=raw,
        headers=Keys.h(keys.urbanisme, **{"Content-Type": "application/json", **extra}),
    )
    assert_error(resp, 400, "invalid_json")
    assert await row_counts(app) == before
