"""The one error shape: ``{"error": {"type", "code", "message", "param"?}}``.

Every 4xx/5xx regie sends has this body. Handlers below map FastAPI's validation errors,
Starlette's HTTP errors and anything unexpected to it, without stack traces or SQL.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

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


# the one error shape, as the OpenAPI document names it (see ``document_errors``)
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "ErrorResponse",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message"],
            "properties": {
                "type": {"type": "string", "examples": ["invalid_request_error"]},
                "code": {"type": "string", "examples": ["parameter_invalid"]},
                "message": {"type": "string"},
                "param": {"type": "string", "description": "The parameter at fault, if one"},
            },
        }
    },
}
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_EDGE_400 = "Malformed request (e.g. a NUL character anywhere, a body that is not JSON)"


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document say what the edge answers: every operation may answer 400
    (the edge guard, before any route), and every error it documents has the one error shape
    (not FastAPI's ``HTTPValidationError``: regie's 422 is the one shape too)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault("400", {"description": _EDGE_400})
                for status, response in responses.items():
                    if int(status) >= 400:
                        response["content"] = {"application/json": {"schema": _ERROR_REF}}
                operation["responses"] = dict(sorted(responses.items()))
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        components["ErrorResponse"] = ERROR_SCHEMA
        schema["components"]["schemas"] = dict(sorted(components.items()))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


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
    ) -> None:
        super().__init__(message)
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


def _method_table(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """(path pattern, methods) of every route, included routers flattened (FastAPI >= 0.16x
    keeps them as lazy entries that ``iter_route_contexts`` opens)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        flat = [(getattr(r, "path", ""), r) for r in app.routes]
    else:
        flat = [(c.path, c.original_route) for c in iter_route_contexts(app.routes)]
    return [
        (compile_path(path)[0], frozenset(methods))
        for path, route in flat
        if (methods := getattr(route, "methods", None))
    ]


def allowed_methods(request: Request) -> list[str]:
    """Every method the request's path answers, over all of its routes: Starlette's own 405
    names only the methods of the first route whose path matched (RFC 9110 wants them all)."""
    table = getattr(request.app.state, "method_table", None)
    if table is None:
        table = request.app.state.method_table = _method_table(request.app)
    path = request.scope.get("path", "")
    return sorted({m for pattern, methods in table if pattern.match(path) for m in methods})


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
        code = {
            "missing": "parameter_missing",
            "extra_forbidden": "parameter_unknown",
        }.get(kind, "parameter_invalid")
        return error_response(
            ApiError(
                422, code, _validation_message(first), param=_param_from_loc(first.get("loc", ()))
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        message = {404: "Not found.", 405: "Method not allowed."}.get(
            exc.status_code, str(exc.detail) if exc.detail else "Request error."
        )
        return error_response(ApiError(exc.status_code, code, message, headers=headers or None))

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
