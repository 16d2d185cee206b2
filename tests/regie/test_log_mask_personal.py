"""regie's JSON log lines, the safety net under the rule that log calls name ids, not
people: what an exception's message or an unexpected field may still carry is masked.

A pydantic ``ValidationError`` (and FastAPI's, a response that fails its model) prints the
input it refused: for a missing field, the whole object around it (the payer's email and
address). A log line with its traceback must not carry them. IBANs, emails written with
accents and fields named after personal data are masked too.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from fastapi.exceptions import ResponseValidationError
from pydantic import ValidationError

from payments.schemas import InvoiceCreate
from regie.kit.logging import JsonFormatter, mask

NAME = "Zéphyrine Quatremaire"
EMAIL = "zephyrine.quatremaire@example.org"
ADDRESS = "12 rue des Acacias\n91000 Évry-Courcouronnes"
IBAN = "FR76 3000 6000 0112 3456 7890 189"


def line_of(exc: Exception, **extra: Any) -> str:
    """The JSON line regie writes for ``log.error("…", exc_info=exc)``."""
    try:
        raise exc
    except type(exc):
        info = sys.exc_info()
    record = logging.getLogger("regie.test").makeRecord(
        "regie.test", logging.ERROR, __file__, 1, "unhandled error", (), info, extra=extra
    )
    return JsonFormatter().format(record)


def assert_no_personal_data(text: str) -> None:
    for personal in (NAME, "Quatremaire", "quatremaire", "Acacias", "Courcouronnes", IBAN):
        assert personal not in text, f"{personal!r} leaked into {text!r}"


def test_a_logged_validation_error_carries_no_input_value() -> None:
    body = {
        "amount": 2500,
        "currency": "EUR",
        "reference": "PC-2026-0042",
        "description": "Permis de construire",
        "payer": {"email": EMAIL, "address": ADDRESS, "nickname": NAME},  # no name
    }
    with pytest.raises(ValidationError) as refused:
        InvoiceCreate.model_validate(body)
    assert "Quatremaire" in str(refused.value)  # what pydantic prints: the premise
    line = line_of(refused.value)
    assert_no_personal_data(line)
    trace = json.loads(line)["trace"]
    assert "payer.name" in trace and "Field required" in trace  # what was wrong stays


def test_a_logged_response_validation_error_carries_no_input() -> None:
    payer = {"email": EMAIL, "address": ADDRESS, "vat_number": None}
    exc = ResponseValidationError(
        [
            {"type": "missing", "loc": ("response", "payer", "name"), "msg": "Field required",
             "input": payer},
            {"type": "string_type", "loc": ("response", "payer", "address"),
             "msg": "Input should be a valid string", "input": [NAME, IBAN], "ctx": {"x": 1}},
        ]
    )  # fmt: skip
    assert "Acacias" in str(exc)  # what FastAPI prints, as the test's premise
    line = line_of(exc)
    assert_no_personal_data(line)
    trace = json.loads(line)["trace"]
    assert "'loc': ('response', 'payer', 'name')" in trace and "Field required" in trace


def test_mask_removes_ibans_written_grouped_or_not() -> None:
    text = mask(f"refund to {IBAN}, then to {IBAN.replace(' ', '')} and DE89370400440532013000.")
    assert "3000 6000" not in text and "30006000" not in text and "370400" not in text
    assert text == "refund to FR76***, then to FR76*** and DE89***."
    # what only looks like one is left: a VAT number, an id, a number that fails the check
    for kept in ("FR40303265045", "inv_01JABCDEF", "FR00TESTNOTANIBAN42"):
        assert mask(kept) == kept


def test_mask_removes_emails_with_accents() -> None:
    for email in ("zoé.dupré@example.fr", "zoe.dupre@exämple.fr", "élodie@mairie.fr"):
        text = mask(f"sent to {email} today")
        assert email not in text and "dupr" not in text and "lodie" not in text, text
        assert "***@" in text


@pytest.mark.parametrize(
    "field", ["payer", "address", "payer_address", "iban", "body", "payload", "token", "api_key"]
)
def test_fields_named_after_personal_data_or_secrets_are_masked(field: str) -> None:
    doc = json.loads(line_of(RuntimeError("boom"), **{field: f"{NAME}, {ADDRESS}"}))
    assert doc[field] == "***"


def test_a_python_warning_is_a_masked_json_line() -> None:
    """A library's ``warnings.warn`` (pydantic's serializer warnings quote the value they
    met) went to stderr as raw text, beside the JSON lines and unmasked."""
    import subprocess

    script = (
        "import warnings\n"
        "from regie.kit.logging import configure\n"
        "configure('INFO')\n"
        f'warnings.warn("Expected `str` [input_value={NAME!r}, input_type=str] for {EMAIL}")\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stderr.splitlines()
    assert lines, "the warning was not written at all"
    docs = [json.loads(line) for line in lines]  # every line is JSON
    assert any("Expected `str`" in doc["msg"] for doc in docs)
    assert_no_personal_data(done.stderr)
    assert EMAIL not in done.stderr
