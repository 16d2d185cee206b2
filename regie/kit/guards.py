"""The edge guard: input that no route, database or clock can take is refused before any
route sees it, in the one error shape.

One ASGI middleware, so every route (present and future, the static mounts too) is covered
without a patch per route:

- a NUL character (``\\u0000``) in the path, in the query string, in a JSON body's string
  (key or value) or in a form field: PostgreSQL refuses it in text and in ``jsonb``, and
  a JSON value holding it breaks every later JSON filter → 400 ``invalid_character``;
- a lone UTF-16 surrogate escaped in a JSON string (``"\\ud800"``): no database driver
  encodes it → 400 ``invalid_character``;
- a URL-encoded form that is not UTF-8 once its escapes are read (its text would be taken
  with the bad bytes replaced) → 400 ``invalid_character``;
- a date-time whose instant in UTC falls outside the years 1–9999 (with a day of margin for
  arithmetic), e.g. ``0001-01-01T00:00:00+14:00``: Python overflows converting it
  → 422 ``parameter_invalid``;
- in a PSP event's body (``/webhooks/…``, read raw, with no model to bound it), a number
  beyond ±(2**53 - 1), or not finite: no amount, count or timestamp is that large, and a
  64-bit column overflows → 400 ``invalid_event`` (the API's own bodies have models that
  bound every number, with the field's own error code).

Multipart bodies (file uploads) are not read here: files may hold any byte; their parsers
check what they take.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regie.kit.errors import ApiError
from regie.kit.http_errors import send_error

MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON (RFC 7493): what every JSON reader takes exactly
_MARGIN = dt.timedelta(days=1)
EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC) + _MARGIN
LATEST = dt.datetime.max.replace(tzinfo=dt.UTC) - _MARGIN
# (the workspace says it in its own words: ``regie.finance.errors``)
DATE_OUT_OF_RANGE = "The date is out of range: its UTC instant must be within 0001–9999."
_DATE_LIKE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}")
_EDGE_YEAR = re.compile(rb'"\s*(?:0001|9999)-')
# a UTF-16 surrogate: JSON may escape one alone (``"\ud800"``), which Python reads into a
# str that no database driver encodes; a pair is read as the one character it stands for
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_DATETIME = TypeAdapter(dt.datetime)
_MAX_DEPTH = 64


class Refused(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def _nul(where: str, param: str | None = None) -> Refused:
    return Refused(
        ApiError(
            400,
            "invalid_character",
            f"The {where} contains a NUL character (\\u0000), which regie does not take.",
            param=param,
        )
    )


def _invalid(param: str | None, message: str) -> Refused:
    return Refused(ApiError(422, "parameter_invalid", message, param=param))


def check_datetime_text(value: str, param: str | None) -> None:
    """Refuse a date-time (as routes would read it) whose UTC instant is out of range."""
    if not _DATE_LIKE.match(value):
        return
    try:  # stripped, as the workspace's forms read a day (`` 9999-12-31`` is that day)
        moment = _DATETIME.validate_python(value.strip())
    except ValidationError:
        return  # not a date-time: the route's own validation answers
    try:
        utc = moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise _invalid(param, DATE_OUT_OF_RANGE)


def check_text(value: str, param: str | None, where: str, *, surrogates: bool = True) -> None:
    if "\x00" in value:
        raise _nul(where, param)
    if surrogates and _SURROGATE.search(value):
        raise Refused(
            ApiError(
                400,
                "invalid_character",
                f"The {where} contains a lone UTF-16 surrogate (\\ud800-\\udfff), which is"
                " not text: no database stores it.",
                param=param,
            )
        )
    check_datetime_text(value, param)


def check_target(scope: Scope) -> None:
    """The path and the query string."""
    if "\x00" in scope.get("path", ""):  # already percent-decoded: %00 is a NUL here
        raise _nul("path")
    query: bytes = scope.get("query_string") or b""
    if not query:
        return
    if b"\x00" in unquote_to_bytes(query.replace(b"+", b" ")):
        raise _nul("query string")
    for key, value in parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True):
        check_datetime_text(value, key)


def _walk(doc: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if len(path) > _MAX_DEPTH:
        raise _invalid(None, "The JSON body is nested too deeply.")
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*path, "{key}"), key
            yield from _walk(value, (*path, str(key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _walk(value, (*path, str(i)))
    else:
        yield path, doc


def check_json(doc: Any, *, numbers: bool = False) -> None:
    for path, value in _walk(doc):
        param = ".".join(p for p in path if p != "{key}") or None
        if isinstance(value, str):
            # (not in a PSP's event: its inbox keeps the JSON as the PSP wrote it, and a money
            # event refused here would only be sent again, and refused again)
            check_text(value, param, "request body", surrogates=not numbers)
        elif isinstance(value, bool) or not numbers:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_SAFE_INTEGER:
                raise _invalid(param, f"The number is out of range (at most {MAX_SAFE_INTEGER}).")
        elif isinstance(value, float) and (
            not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER
        ):
            raise _invalid(param, f"The number is out of range (at most {MAX_SAFE_INTEGER}).")


def check_form(body: bytes) -> None:
    raw = unquote_to_bytes(body.replace(b"+", b" "))
    if b"\x00" in raw:
        raise _nul("form")
    try:  # read as UTF-8 with the bad bytes replaced, a note would be stored altered
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(
            ApiError(400, "invalid_character", "The form is not UTF-8 text, which regie reads.")
        ) from None
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        check_datetime_text(value, key)


#: where the guard leaves the JSON document it parsed and checked (``scope["state"]``), for a
#: route that reads its body itself not to parse megabytes twice (a batch of invoices)
PARSED_JSON = "regie_parsed_json"
NOT_PARSED = object()


def check_body(content_type: str, body: bytes, *, numbers: bool = False) -> Any:
    """Refuse what is refused; returns the JSON document parsed, or ``NOT_PARSED``."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        check_form(body)
        return NOT_PARSED
    if kind and kind != "application/json" and not kind.endswith("+json"):
        if body.lstrip()[:1] not in (b"{", b"["):
            return NOT_PARSED
    if (
        not numbers
        and b"\x00" not in body
        and b"\\u0000" not in body
        and not _EDGE_YEAR.search(body)
        and not _SURROGATE_ESCAPE.search(body)
    ):
        # (the hot path: a JSON body in UTF-8 with no escaped NUL, no escaped surrogate and no
        # date in year 1 or 9999, the only years an offset can push out of range, holds
        # nothing to refuse here; a raw NUL byte in UTF-8 is not JSON at all, nor is a
        # surrogate; the route parses it. A NUL byte is in every JSON text in UTF-16 or
        # UTF-32, which the route's parser reads too: those are parsed and checked here)
        return NOT_PARSED
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return NOT_PARSED  # not JSON: the route answers invalid_json
    check_json(doc, numbers=numbers)
    return doc


def parsed_json(scope: Scope) -> Any:
    """The JSON body the guard parsed for this request, or ``NOT_PARSED``."""
    return scope.get("state", {}).get(PARSED_JSON, NOT_PARSED)


class InputGuardMiddleware:
    """Refuses, before routing, what ``check_target`` and ``check_body`` refuse. Sits inside
    ``BodyLimitMiddleware``, so a body is read whole only once it is known to be small."""

    def __init__(self, app: ASGIApp, *, event_prefix: str = "/webhooks/") -> None:
        self.app = app
        self.event_prefix = event_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope)
        except Refused as refused:  # a page where the path has its pages (the workspace)
            await send_error(scope, receive, send, refused.error)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
        if content_type.lower().startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        try:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client went away
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except HTTPException as exc:  # over the body limit while streaming
            code = "body_too_large" if exc.status_code == 413 else "http_error"
            await send_error(scope, receive, send, ApiError(exc.status_code, code, str(exc.detail)))
            return
        body = b"".join(chunks)
        event = scope["path"].startswith(self.event_prefix)
        try:
            if body:
                doc = check_body(content_type, body, numbers=event)
                if doc is not NOT_PARSED:
                    scope.setdefault("state", {})[PARSED_JSON] = doc
        except Refused as refused:
            error = refused.error
            if event and error.status == 422:
                # a PSP's event: 400, like any malformed event (webhooks.inbound.intake)
                error = ApiError(400, "invalid_event", error.message, param=error.param)
            await send_error(scope, receive, send, error)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
