from __future__ import annotations

import io
import json
import logging
import re

import httpx
import pytest

from regie.kit.logging import QUIET_LOGGERS, JsonFormatter, configure, mask, request_id_var


def test_mask_removes_emails_card_numbers_and_keys() -> None:
    text = mask(
        "camille.martin@example.org paid with 4242 4242 4242 4242 using rk_test_ser_AbCdEf123 and whsec_abc123"
    )
    assert "camille.martin@" not in text and "c***@example.org" in text
    assert "4242 4242 4242 4242" not in text
    assert "AbCdEf123" not in text and "abc123" not in text


def test_json_lines_carry_the_request_id_and_mask_personal_fields() -> None:
    record = logging.LogRecord(
        "regie.test", logging.INFO, __file__, 1, "invoice for %s", ("jean@example.org",), None
    )
    record.payer_name = "Jean Dupont"
    record.event = "evt_1"
    token = request_id_var.set("req-12345678")
    try:
        doc = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert doc["request_id"] == "req-12345678"
    assert doc["payer_name"] == "***"
    assert "jean@" not in doc["msg"]
    assert doc["event"] == "evt_1"


def test_uvicorns_coloured_copy_of_a_message_is_left_out() -> None:
    """uvicorn's own log records carry ``color_message``, the message again with terminal
    colour codes: in a JSON line it is noise with escape characters for the log store, and
    the message is there already."""
    logger = logging.getLogger("uvicorn.error")
    record = logger.makeRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Started server process [%d]", (42,), None,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
    )  # fmt: skip
    doc = json.loads(JsonFormatter().format(record))
    assert doc["msg"] == "Started server process [42]"
    assert "color_message" not in doc


def test_mask_takes_a_secret_s_whole_tail_hyphens_included() -> None:
    text = mask(
        "whsec_abc-def sk_live_AbC-123_x-y rk_live_Stripe-Restricted-9 "
        "rk_test_ser_Ab-Cd-Ef Bearer rk_live_xyz Authorization: Bearer opaque.Token-42"
    )
    for tail in ("abc", "-def", "AbC", "123_x-y", "Stripe", "Restricted-9", "Ab-Cd", "Token-42"):
        assert tail not in text, (tail, text)
    assert "whsec_***" in text and "rk_test_ser_***" in text  # the kind of secret stays


def test_what_mask_writes_in_place_of_each_secret() -> None:
    """The exact replacement text: what an operator reads in the log (the kind of secret,
    then ``***``), not only that the secret is gone."""
    assert mask("Authorization: Bearer opaque.Token-42, next") == (
        "Authorization: Bearer ***, next"
    )
    assert mask("key rk_live_xyz and whsec_abc") == "key rk_live_*** and whsec_***"
    assert mask("GET /pay/return?session=cs_1 ok") == "GET /pay/return?*** ok"
    assert mask("jean.dupont@example.org") == "j***@example.org"
    assert mask("card 4242 4242 4242 4242 ok") == "card [card number removed] ok"


def test_mask_removes_query_strings_of_urls() -> None:
    text = mask(
        "GET https://api.example.org/v1/x?token=s3cr3t&email=a%40b.fr done; "
        "http://127.0.0.1:8000/pay/return?session=cs_live_42 and /v1/invoices?payer=Jean"
    )
    assert "s3cr3t" not in text and "a%40b" not in text and "cs_live_42" not in text
    assert "Jean" not in text
    assert "https://api.example.org/v1/x?" in text and "/v1/invoices?" in text


async def test_the_httpx_logger_writes_no_query_string(tmp_path: object) -> None:
    """What an outgoing request logs through regie's handler (the httpx logger writes
    every request's URL at INFO)."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure("INFO")
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        transport = httpx.MockTransport(lambda request: httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(
                "https://notify.example.org/hook?api_key=k3y-v4lue&whsec=whsec_abc-def"
            )
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
    written = stream.getvalue()
    assert "notify.example.org/hook" in written  # the request was logged
    assert "k3y-v4lue" not in written and "abc-def" not in written, written


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (None, False),  # none sent: regie makes one
        ("req-7f3a9c21-b04e", True),  # a caller's well-formed id is kept, to follow it across
        ("short", False),  # under 8 characters
        ("x" * 65, False),  # over 64
        ("abc def 123", False),  # not letters, digits and dashes: never written into logs
        ('req"}{"level":"x', False),  # an attempt to forge a JSON log field
    ],
    ids=["none", "kept", "short", "long", "spaces", "json"],
)
async def test_each_answer_carries_a_request_id_the_callers_only_when_well_formed(
    client: httpx.AsyncClient, sent: str | None, kept: bool
) -> None:
    headers = {} if sent is None else {"X-Request-Id": sent}
    rid = (await client.get("/healthz", headers=headers)).headers["x-request-id"]
    if kept:
        assert rid == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", rid), rid  # a fresh one, never the caller's


def test_mask_takes_a_regie_endpoint_secret_whole_its_base64_included() -> None:
    """regie's own endpoint secrets are ``whsec_`` and standard base64 (``+``, ``/``,
    ``=``): the mask stopped at the first ``+`` or ``/`` and left the rest of the secret,
    most of it, in the log line."""
    from webhooks.outbound.signing import new_secret

    secrets = ["whsec_D6o+8yfDJHP4SYndjqTbwcIk3YdEQuD8KY0i7j9YNUA=", new_secret(), new_secret()]
    for secret in secrets:
        line = mask(f"secret {secret} end")
        assert line == "secret whsec_*** end", line
