"""Response headers every answer gets: ``nosniff``, ``no-store``, HSTS and ``Secure`` cookies.

- ``X-Content-Type-Options: nosniff`` on every response;
- ``Cache-Control: no-store`` on every response that does not set its own (API answers,
  PDFs, pages: they carry payers' data), except the static assets;
- over https (``Settings.https``): ``Strict-Transport-Security``, and ``Secure`` added to
  every ``Set-Cookie`` that lacks it (the finance session, the language choice, any cookie
  added later). Over plain http (the demo on 127.0.0.1) neither, or browsers would drop
  the cookies.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000"  # one year; subdomains are the operator's to decide
STATIC_PREFIXES = ("/static/", "/finance/static/", "/docs/assets/")


def secure_cookie(value: bytes) -> bytes:
    attributes = [part.strip().lower() for part in value.split(b";")[1:]]
    return value if b"secure" in attributes else value + b"; Secure"


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, https: bool, static_prefixes: tuple[str, ...] = STATIC_PREFIXES
    ) -> None:
        self.app = app
        self.https = https
        self.static_prefixes = static_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(self.static_prefixes)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if self.https:
                    if b"strict-transport-security" not in names:
                        headers.append((b"strict-transport-security", HSTS))
                    headers = [
                        (name, secure_cookie(value) if name.lower() == b"set-cookie" else value)
                        for name, value in headers
                    ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
