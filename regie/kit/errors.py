"""The one error shape: ``{"error": {"type", "code", "message", "param"?, "errors"?}}``.

``errors`` is given only by a batch (``POST /v1/invoice-batches``, ``regie invoices
import``): one item per invalid row, ``{"row", "param", "code", "message"}``.

Every 4xx/5xx regie sends has this body. Handlers below map FastAPI's validation errors,
Starlette's HTTP errors and anything unexpected to it, without stack traces or SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("regie.errors")

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


# OpenAPI descriptions of the error statuses every authenticated route may answer
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request"},
    401: {"description": "Missing or invalid API key"},
    403: {"description": "Wrong role"},
    404: {"description": "Not found"},
    409: {"description": "Conflict"},
    413: {"description": "Body too large"},
    422: {"description": "Invalid parameter"},
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


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


def _param_from_loc(loc: tuple[Any, ...] | list[Any]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # pydantic adds the union/function branch names; keep the data path only
    parts = [p for p in parts if not p.startswith("function-") and "[" not in p]
    return ".".join(parts) or None


def _validation_message(err: dict[str, Any]) -> str:
    msg = str(err.get("msg", "Invalid value."))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    return msg[:1].upper() + msg[1:] + ("" if msg.endswith(".") else ".")


def describe_validation_error(err: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """(code, param, message) of one pydantic error, as the API reports it."""
    code = {"missing": "parameter_missing", "extra_forbidden": "parameter_unknown"}.get(
        str(err.get("type", "")), "parameter_invalid"
    )
    return code, _param_from_loc(err.get("loc", ())), _validation_message(dict(err))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        kind = str(first.get("type", ""))
        if kind == "json_invalid":
            return error_response(
                ApiError(400, "invalid_json", "The request body is not valid JSON.")
            )
        code, param, message = describe_validation_error(first)
        return error_response(ApiError(422, code, message, param=param))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        message = {404: "Not found.", 405: "Method not allowed."}.get(
            exc.status_code, str(exc.detail) if exc.detail else "Request error."
        )
        return error_response(ApiError(exc.status_code, code, message))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the route's template, not the path: /pay/{token} must not write the token
        route = getattr(request.scope.get("route"), "path", None) or "(no route)"
        log.error(
            "unhandled error",
            extra={"route": route, "error_class": type(exc).__name__},
            exc_info=exc,
        )
        return error_response(
            ApiError(500, "internal_error", "Something went wrong on our side; nothing was lost.")
        )
