"""A regie served over https (an https ``REGIE_BASE_URL``) with ``REGIE_ENV`` left at
``development`` (a staging server on a public address): the SSRF guard's production rules
apply, as HSTS and Secure cookies do; the development exception (loopback, http) is for a
developer's machine, and would let any service key make the server POST to its own ports."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from regie.kit.settings import Settings
from tests.conftest import Keys
from tests.webhooks.notify_kit import Receiver, count
from webhooks.outbound.models import WebhookEndpoint


@pytest.fixture
def settings(settings_factory: Any) -> Settings:
    made: Settings = settings_factory(base_url="https://recettes.example.fr", secret_key="s" * 40)
    return made


async def test_a_server_on_https_refuses_loopback_urls_whatever_its_env(
    client: httpx.AsyncClient, app: Any, keys: Keys, receiver: Receiver
) -> None:
    assert app.state.settings.env == "development"

    async def code(url: str) -> str | int:
        r = await client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=Keys.h(keys.urbanisme)
        )
        return r.status_code if r.status_code != 422 else r.json()["error"]["code"]

    assert await code(f"{receiver.url}/hook") == "url_scheme_not_allowed"
    assert await code(f"https://127.0.0.1:{receiver.port}/hook") == "url_host_not_allowed"
    assert await code("https://[::1]/hook") == "url_host_not_allowed"
    assert await code("https://localhost/hook") == "url_host_not_allowed"
    assert await count(app, WebhookEndpoint) == 0
