"""A database error logs no personal data: neither the statement's parameters (the payer's
name and email, the pay token) nor the request path that carries the token.

The error is forced by hiding the ``invoices`` table for a moment (the same SQL fails on
both backends). Every log line is captured twice: by pytest's ``caplog`` at DEBUG (what any
handler sees) and through the handler regie installs (``regie.kit.logging.configure``);
and the exception the server loop would log (uvicorn's "Exception in ASGI application") is
checked as well.
"""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from regie.cli_common import _first_line
from regie.kit import logging as regie_logging
from tests.conftest import BASE_URL, Keys, create_invoice, invoice_body, token_of

NAME = "Zéphyrine Quatremaire"
EMAIL = "zephyrine.quatremaire@example.org"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[tuple[Any, io.StringIO]]:
    """caplog at DEBUG on every logger, plus regie's own JSON handler writing to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    regie_logging.configure("DEBUG")  # regie's handler, as `regie serve` installs it
    stream = io.StringIO()
    regie_handler = root.handlers[0]
    assert isinstance(regie_handler, logging.StreamHandler)
    regie_handler.setStream(stream)
    root.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    try:
        yield caplog, stream
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name in regie_logging.QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)


async def _hide_invoices(app: Any, hidden: bool) -> None:
    old, new = ("invoices", "invoices_hidden") if hidden else ("invoices_hidden", "invoices")
    async with app.state.db.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_a_database_error_logs_no_payer_data_nor_pay_token(
    app: Any, keys: Keys, all_logs: tuple[pytest.LogCaptureFixture, io.StringIO]
) -> None:
    caplog, stream = all_logs
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    raised: list[BaseException] = []
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        invoice = await create_invoice(client, keys.urbanisme, payer={"name": NAME})
        token = token_of(invoice)
        await _hide_invoices(app, True)
        try:
            for method, path, body in (
                ("GET", f"/pay/{token}", None),
                ("POST", f"/pay/{token}/checkout", None),
                (
                    "POST",
                    "/v1/invoices",
                    invoice_body(payer={"name": NAME, "email": EMAIL}, reference="PC-LEAK-1"),
                ),
            ):
                try:
                    r = await client.request(
                        method, path, json=body, headers=Keys.h(keys.urbanisme)
                    )
                    assert r.status_code == 500, r.text
                except Exception as exc:  # noqa: BLE001 - what the server loop would log
                    raised.append(exc)
        finally:
            await _hide_invoices(app, False)

    assert raised, "the database error never happened"
    lines = [caplog.text, stream.getvalue()]
    lines += ["".join(traceback.format_exception(type(e), e, e.__traceback__)) for e in raised]
    everything = "\n".join(lines)
    assert "invoices" in everything  # the error itself was logged
    for secret in (NAME, "Quatremaire", EMAIL, "quatremaire@", token):
        assert secret not in everything, f"{secret!r} leaked into the logs"


ADDRESS = "12 rue des Acacias\n91000 Évry-Courcouronnes"


@pytest.mark.postgres
async def test_a_row_the_database_refuses_is_not_quoted_in_the_logs(
    app: Any, keys: Keys, all_logs: tuple[pytest.LogCaptureFixture, io.StringIO]
) -> None:
    """PostgreSQL's DETAIL of a refused row (``Failing row contains (…)``: every column of
    the invoice, its payer's name, email and address and its pay token) is part of the
    driver's exception, the first of the chain a traceback prints, which
    ``hide_parameters`` does not hide. A constraint that refuses to cancel this invoice is
    added for the length of the test (NOT VALID: the rows there stay)."""
    caplog, stream = all_logs
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    raised: list[BaseException] = []
    async with app.state.db.engine.begin() as conn:
        await conn.execute(
            text(
                "ALTER TABLE invoices ADD CONSTRAINT ck_test_refused "
                f"CHECK (status <> 'canceled' OR payer_name <> '{NAME}') NOT VALID"
            )
        )
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            body = invoice_body(
                payer={"name": NAME, "email": EMAIL, "address": ADDRESS}, reference="PC-LEAK-2"
            )
            try:
                r = await client.post("/v1/invoices", json=body, headers=Keys.h(keys.urbanisme))
                assert r.status_code == 201, r.text
                token = token_of(r.json())
                r = await client.post(
                    f"/v1/invoices/{r.json()['id']}/cancel",
                    json={},
                    headers=Keys.h(keys.urbanisme),
                )
                assert r.status_code == 500, r.text
            except Exception as exc:  # noqa: BLE001 - what the server loop would log
                raised.append(exc)
    finally:
        async with app.state.db.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE invoices DROP CONSTRAINT ck_test_refused"))
    lines = [caplog.text, stream.getvalue()]
    lines += ["".join(traceback.format_exception(type(e), e, e.__traceback__)) for e in raised]
    everything = "\n".join(lines)
    assert "ck_test_refused" in stream.getvalue()  # the error was logged, its constraint named
    for personal in (NAME, "Quatremaire", "Acacias", "Courcouronnes", "quatremaire@", token):
        assert personal not in everything, f"{personal!r} leaked into the logs"


@pytest.mark.postgres
async def test_a_value_the_driver_refuses_is_not_quoted_in_the_logs_nor_the_answer(
    app: Any, all_logs: tuple[pytest.LogCaptureFixture, io.StringIO]
) -> None:
    """asyncpg refuses a value it cannot encode for the parameter's type before sending
    it (``invalid input for query argument $1: 'Zéphyrine Quatremaire' (…)``, a client-side
    ``DataError``): the value is quoted in the driver's message, which is the first of the
    chain a traceback prints and what ``hide_parameters`` does not hide, and in SQLAlchemy's
    message around it. Neither the logs, the 500 answer, nor the line the command line
    prints (``cli_common._first_line``) may carry it; the argument's number and the
    reason stay."""
    caplog, stream = all_logs
    query, params = text("SELECT CAST(:n AS integer)"), {"n": NAME}

    async def refused(request: Request) -> None:
        async with app.state.db.session() as s:
            await s.execute(query, params)

    app.router.add_api_route("/test-refused-value", refused, methods=["POST"])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            r = await client.post("/test-refused-value")
    finally:
        app.router.routes.pop()
    assert r.status_code == 500, r.text
    with pytest.raises(DBAPIError) as info:
        async with app.state.db.session() as s:
            await s.execute(query, params)
    raised = info.value
    trace = "".join(traceback.format_exception(type(raised), raised, raised.__traceback__))
    everything = "\n".join([caplog.text, stream.getvalue(), r.text, trace, _first_line(raised)])
    assert "invalid input for query argument $1" in stream.getvalue()  # the error was logged
    assert "query argument $1: *** ('str' object cannot be interpreted as an integer)" in (
        _first_line(raised)
    )  # the argument's number and the reason stay
    for personal in (NAME, "Zéphyrine", "Quatremaire"):
        assert personal not in everything, f"{personal!r} leaked into the logs or the answer"


def test_the_mask_drops_a_quoted_argument_value_even_holding_a_bracket() -> None:
    line = "invalid input for query argument $2 in element #1 of executemany() sequence: "
    masked = regie_logging.mask(f"{line}'Dupré (Zoé)' (expected str, got int)\n[SQL: x]")
    assert masked == f"{line}*** (expected str, got int)\n[SQL: x]"
