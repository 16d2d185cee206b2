"""While the database cannot be reached (restarting, failing over, a dropped connection),
the API answers 503 ``database_unavailable`` with ``Retry-After``, in the one error shape:
a client retries, where a 500 would say the request itself broke something."""

from __future__ import annotations

import socket

import httpx

from regie.app import create_app
from regie.kit.settings import Settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


async def test_the_api_answers_503_with_retry_after_while_the_database_is_unreachable() -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/regie_nowhere"
    app = create_app(Settings(database_url=url, base_url="http://testserver", psp="simulator"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get("/v1/invoices", headers={"Authorization": "Bearer sk_test_" + "x" * 40})
            body = await c.post(
                "/v1/invoices",
                json={"amount": 2500, "currency": "EUR", "description": "x", "payer": {}},
                headers={"Authorization": "Bearer sk_test_" + "x" * 40},
            )
    for answer in (r, body):
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "2"
        error = answer.json()["error"]
        assert error["code"] == "database_unavailable"
        assert "Traceback" not in answer.text and "asyncpg" not in answer.text
