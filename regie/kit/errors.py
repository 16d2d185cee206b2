"""The one error shape: ``{"error": {"type", "code", "message", "param"?, "errors"?}}``.

``errors`` is given only by a batch (``POST /v1/invoice-batches``, ``regie invoices
import``): one item per invalid row, ``{"row", "param", "code", "message"}``.

Every 4xx/5xx regie sends has this body. The handlers in ``regie.kit.http_errors`` map
FastAPI's validation errors, Starlette's HTTP errors and anything unexpected to it, without
stack traces or SQL. This module imports no web framework: a command line that reports an
``ApiError`` does not load one.

A request with invalid parameters (422) lists every one of them in ``errors`` (each with
its ``code``, ``message`` and ``param``); ``code``, ``message`` and ``param`` are the
first's, as they always were. A body that is not declared JSON is 415 naming the header;
a path id of the wrong shape is 404 (no such thing), like an unknown one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from email.message import Message
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "psp_error",
    503: "service_unavailable",
}


class FieldError(BaseModel):
    code: str = Field(examples=["parameter_missing"])
    message: str
    param: str | None = Field(default=None, examples=["payer.name"])


class ErrorDetail(BaseModel):
    type: str = Field(examples=["invalid_request_error"])
    code: str = Field(examples=["parameter_invalid"])
    message: str
    param: str | None = Field(
        default=None, description="The parameter or header at fault (the first, on a 422)"
    )
    errors: list[FieldError] | None = Field(
        default=None, description="On a 422: every invalid parameter, the first one first"
    )


class ErrorBody(BaseModel):
    """The one error shape."""

    error: ErrorDetail


# OpenAPI descriptions of the error statuses every authenticated route may answer
API_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "model": ErrorBody}
    for status, text in {
        400: "Malformed request",
        401: "Missing or invalid API key",
        403: "Wrong role",
        404: "Not found (an unknown id, or one of the wrong shape)",
        409: "Conflict",
        413: "Body too large",
        415: "A body not sent as Content-Type: application/json",
        422: "Invalid parameters, each listed in error.errors",
    }.items()
}


class ApiError(Exception):
    """A client-visible error. Raise it anywhere below a router."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.errors = errors  # one per row of a batch: {"row", "param", "code", "message"}
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type or _TYPE_BY_STATUS.get(status, "api_error")
        self.headers = headers
        self.errors = errors

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message}
        if self.param:
            err["param"] = self.param
        if self.errors is not None:
            err["errors"] = self.errors
        return {"error": err}


class NotFound(ApiError):
    def __init__(self, what: str, param: str | None = None) -> None:
        super().__init__(404, "resource_missing", f"No such {what}.", param=param)


class Conflict(ApiError):
    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(409, code, message, param=param)


def _param_from_loc(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # pydantic adds the union/function branch names; keep the data path only
    parts = [p for p in parts if not p.startswith("function-") and "[" not in p]
    return ".".join(parts) or None


# pydantic's words for "not an integer": on an amount, say that amounts are in cents
_NOT_AN_INTEGER = {"int_type", "int_from_float", "int_parsing"}
AMOUNTS_ARE_CENTS = (
    "Amounts are integers in minor units (cents for EUR: 2500 means 25.00 EUR), not {given}."
)


def _validation_message(err: dict[str, Any]) -> str:
    loc = [str(p) for p in err.get("loc", ())]
    if err.get("type") in _NOT_AN_INTEGER and loc and loc[-1].endswith("amount"):
        given = json.dumps(err.get("input"), default=str)
        return AMOUNTS_ARE_CENTS.format(given=given[:40])
    msg = str(err.get("msg", "Invalid value."))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[:1].upper() + msg[1:] + ("" if msg.endswith(".") else ".")


def _field_code(err: dict[str, Any]) -> str:
    kind = str(err.get("type", ""))
    return {"missing": "parameter_missing", "extra_forbidden": "parameter_unknown"}.get(
        kind, "parameter_invalid"
    )


def validation_error(errors: Sequence[Any]) -> ApiError:
    """422 listing every invalid parameter of pydantic's ``errors()``, one per parameter;
    ``code``/``message``/``param`` are the first's. Routers validating by hand use it too."""
    listed: list[dict[str, str]] = []
    seen: set[str | None] = set()
    for err in errors:
        param = _param_from_loc(err.get("loc", ()))
        if param in seen:  # a union's branches: one problem per parameter
            continue
        seen.add(param)
        item = {"code": _field_code(err), "message": _validation_message(err)}
        if param:
            item["param"] = param
        listed.append(item)
    if not listed:
        listed.append({"code": "parameter_invalid", "message": "Invalid request."})
    first = listed[0]
    message = first["message"]
    if len(listed) > 1:
        message += f" This is the first of {len(listed)} problems; errors lists them all."
    return ApiError(422, first["code"], message, param=first.get("param"), errors=listed)


def _media_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    msg = Message()
    msg["content-type"] = content_type
    return msg.get_content_type()


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/…+json``, whatever its parameters."""
    media_type = _media_type(content_type)
    if media_type is None or not media_type.startswith("application/"):
        return False
    subtype = media_type.removeprefix("application/")
    return subtype == "json" or subtype.endswith("+json")


def content_type_error(
    content_type: str | None, reads: str = "a JSON body: send Content-Type: application/json"
) -> ApiError:
    """415 saying what the Content-Type header is and what this endpoint reads."""
    media = _media_type(content_type)
    if media is None:
        said = "The request has a body but no Content-Type header"
    else:
        shown = "".join(c for c in media if c.isprintable())[:80]
        said = f"Content-Type is {shown}"
    return ApiError(
        415,
        "content_type_invalid",
        f"{said}; this endpoint reads {reads}.",
        param="Content-Type",
    )


def describe_validation_error(err: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """(code, param, message) of one pydantic error, as the API reports it."""
    return (
        _field_code(dict(err)),
        _param_from_loc(err.get("loc", ())),
        _validation_message(dict(err)),
    )


DATABASE_UNAVAILABLE = ApiError(
    503,
    "database_unavailable",
    "The service cannot reach its database for a moment. Retry shortly (a POST with the "
    "same Idempotency-Key is answered once).",
    headers={"Retry-After": "2"},
)


def is_database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (restart, failover,
    network): not the request's fault, and worth a retry. Follows the cause chain, since
    SQLAlchemy wraps the driver's error."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, OperationalError | SAInterfaceError | ConnectionError):
            return True
        if isinstance(seen, OSError) and seen.errno is None and "Connect call failed" in str(seen):
            return True  # asyncio's refusal to connect (several addresses tried)
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return False
