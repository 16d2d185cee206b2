"""What an adapter's ``build`` is given: the settings, the database, and the HTTP
clients it may need, made here so that the application closes them at shutdown."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from starlette.types import ASGIApp

from regie.kit.database import Database
from regie.kit.settings import Settings

IN_PROCESS_BASE_URL = "http://regie.internal"


@dataclass
class BuildContext:
    settings: Settings
    db: Database
    # the application itself, to reach its endpoints in process; None in a standalone
    # worker, which reaches the API over HTTP at ``settings.base_url``
    app: ASGIApp | None = None
    clients: list[httpx.AsyncClient] = field(default_factory=list)  # the app closes them

    def http_client(self, *, timeout: float) -> httpx.AsyncClient:
        """A client for a PSP's API (its connection pool is shared by the adapter)."""
        return self._keep(httpx.AsyncClient(timeout=timeout))

    def regie_client(self) -> httpx.AsyncClient:
        """A client that reaches this regie's own endpoints (``/webhooks/…``): through the
        whole app in process (middleware, signature check, inbox; no network needed), or
        over HTTP to the API when there is no app here."""
        if self.app is not None:
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=self.app), base_url=IN_PROCESS_BASE_URL
            )
        else:
            client = httpx.AsyncClient(base_url=self.settings.base_url)
        return self._keep(client)

    def _keep(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        self.clients.append(client)
        return client
