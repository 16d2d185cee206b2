"""Pure ASGI middleware: request ids and request-body size limits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regie.kit.errors import ApiError
from regie.kit.http_errors import send_error
from regie.kit.logging import request_id_var
from regie.kit.uploads import (
    PART_ALLOWANCE,
    SNIFF_BYTES,
    FileTooLarge,
    Namer,
    TooLargeWhileStreaming,
    body_too_large,
    files_too_large,
    header_name,
    multipart_name,
)


def _error_body(code: str, message: str) -> bytes:
    return json.dumps(
        {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    ).encode()


async def _head(receive: Receive) -> bytes:
    """The body's first ``SNIFF_BYTES`` (a little more: whole chunks), read to find the file's
    name before a 413 that never reads the rest."""
    head = bytearray()
    while len(head) < SNIFF_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            break
        head.extend(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return bytes(head[:SNIFF_BYTES])


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = (
            incoming
            if 8 <= len(incoming) <= 64 and incoming.replace("-", "").isalnum()
            else uuid.uuid4().hex
        )
        token = request_id_var.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


def _media(headers: dict[bytes, bytes]) -> str:
    return headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower().decode("latin-1")


@dataclass(frozen=True)
class Upload:
    """A route that takes a file up to the upload limit (its exact path is the key of
    ``BodyLimitMiddleware``'s ``uploads``): a POST in one of ``media_types`` that carries the
    credential, the ``header`` (a key) or the ``cookie`` (a session). Any other request there
    gets the default limit: a client without a credential cannot make regie read a file's
    worth of bytes (held in memory, or spooled) only to refuse it. The limit is a file's,
    and the ``max_files`` files a route takes hold at most that much together: multipart
    gets ``PART_ALLOWANCE`` more for each part's framing."""

    media_types: tuple[str, ...]
    header: bytes | None = None
    cookie: str | None = None
    max_files: int = 1

    def admits(self, headers: dict[bytes, bytes]) -> bool:
        if _media(headers) not in self.media_types:
            return False
        if self.header is not None and headers.get(self.header):
            return True
        if self.cookie is not None:
            return self.cookie in cookie_parser(headers.get(b"cookie", b"").decode("latin-1"))
        return False


class BodyLimitMiddleware:
    """413 for bodies over the limit, by Content-Length or while streaming (chunked). An
    upload's 413 names its file when it can (``regie.kit.uploads``), through ``file_name``
    (the app's, which drops control characters)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        webhook_limit: int,
        upload_limit: int | None = None,
        uploads: Mapping[str, Upload] | None = None,
        batch_limit: int | None = None,
        batch_paths: tuple[str, ...] = (),
        file_name: Namer | None = None,
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.webhook_limit = webhook_limit
        self.upload_limit = upload_limit or default_limit
        self.uploads = dict(uploads or {})
        self.batch_limit = batch_limit or default_limit
        self.batch_paths = frozenset(batch_paths)
        self.file_name = file_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = dict(scope["headers"])
        upload = self.uploads.get(path)
        sniff = False  # whether the 413 names the file: found in the body's first bytes
        together = False  # several files: the 413 says they are too large together
        raw_name: str | None = None
        if path.startswith("/webhooks/"):
            limit = self.webhook_limit
        elif path in self.batch_paths:
            limit = self.batch_limit  # a batch of invoices (exactly these paths, no prefix)
        elif upload is not None and scope["method"] == "POST" and upload.admits(headers):
            # file uploads: bank statements, PSP reports; the limit is a file's
            if _media(headers) == "multipart/form-data":
                # the files together hold at most one file's limit (a request's disk and
                # memory stay bounded), and their parts' framing comes on top
                limit = self.upload_limit + upload.max_files * PART_ALLOWANCE
                sniff = upload.max_files == 1  # else the first file may not be the large one
                together = upload.max_files > 1
            else:  # the file is the body
                limit = self.upload_limit
                raw_name = header_name(headers.get(b"x-filename"))
        elif upload is not None:  # no file, or no credential: never more than for a file
            limit = min(self.default_limit, self.upload_limit)
        else:
            limit = self.default_limit
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await self._reject(
                    send,
                    limit,
                    status=400,
                    code="invalid_content_length",
                    message="Content-Length is not a number.",
                )
                return
            if int(length) > limit:
                if sniff:
                    raw_name = multipart_name(await _head(receive))
                err = self._too_large(limit, raw_name, together)
                await send_error(scope, receive, send, err)
                return
        received = 0
        head = bytearray()

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if sniff and len(head) < SNIFF_BYTES:
                    head.extend(chunk[: SNIFF_BYTES - len(head)])
                if received > limit:
                    name = multipart_name(bytes(head)) if sniff else raw_name
                    raise TooLargeWhileStreaming(self._too_large(limit, name, together))
            return message

        await self.app(scope, limited_receive, send)

    def _too_large(self, limit: int, raw_name: str | None, together: bool = False) -> ApiError:
        """The file's 413, named; a route's several files too large together; without a
        name, the body's limit as before."""
        name = self.file_name(raw_name, "") if self.file_name and raw_name is not None else ""
        if name:
            return FileTooLarge(name, self.upload_limit)
        return files_too_large(self.upload_limit) if together else body_too_large(limit)

    @staticmethod
    async def _reject(
        send: Send,
        limit: int,
        *,
        status: int = 413,
        code: str = "body_too_large",
        message: str = "",
    ) -> None:
        body = _error_body(code, message or f"The request body is larger than {limit} bytes.")
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
