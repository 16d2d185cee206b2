from __future__ import annotations

import json
import logging

from regie.kit.logging import JsonFormatter, mask, request_id_var


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
