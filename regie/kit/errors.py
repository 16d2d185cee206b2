"""The one error shape: ``{"error": {"type", "code", "message", "param"?, "errors"?}}``.

``errors`` is given only by a batch (``POST /v1/invoice-batches``, ``regie invoices
import``): one item per invalid row, ``{"row", "param", "code", "message"}``.

Every 4xx/5xx regie sends has this body. Handlers below map FastAPI's validation errors,
Starlette's HTTP errors and anything unexpected to it, without stack traces or SQL.

A request with invalid parameters (422) lists every one of them in ``errors`` (each with
its ``code``, ``message`` and ``param``); ``code``, ``message`` and ``param`` are the
first's, as they always were. A body that is not declared JSON is 415 naming the header;
a path id of the wrong shape is 404 (no such thing), like an unknown one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from email.message import Message
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
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


_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_EDGE_400 = "Malformed request (e.g. a NUL character anywhere, a body that is not JSON)"
_NOT_FOUND = "No such resource (an id of the wrong shape included)"
_NOT_JSON = "A body not sent as Content-Type: application/json"


def document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document say what the edge answers: every operation may answer 400
    (the edge guard, before any route), and every error it documents has the one error shape
    (not FastAPI's ``HTTPValidationError``: regie's 422 is the one shape too)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.setdefault("400", {"description": _EDGE_400})
                if "{" in path:  # an id of the wrong shape names nothing: 404, as unknown
                    responses.setdefault("404", {"description": _NOT_FOUND})
                body = operation.get("requestBody", {}).get("content", {})
                if "application/json" in body:  # a body sent as anything else
                    responses.setdefault("415", {"description": _NOT_JSON})
                for status, response in responses.items():
                    if int(status) >= 400:
                        response["content"] = {"application/json": {"schema": _ERROR_REF}}
                operation["responses"] = dict(sorted(responses.items()))
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError", "ErrorBody"):
            components.pop(unused, None)
        # the one error shape, from its model (``ErrorBody``: with a 422's ``errors`` list)
        shape = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(shape.pop("$defs", {}))
        components["ErrorResponse"] = {**shape, "title": "ErrorResponse"}
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


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


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


def _reads_json(request: Request) -> bool:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return not isinstance(route.body_field.field_info, params.Form)  # File is a Form


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


def _not_found(err: dict[str, Any]) -> ApiError:
    name = str(list(err.get("loc", ("path", "id")))[-1])
    what = "receipt or credit note" if name == "number" else name.removesuffix("_id")
    return ApiError(404, "resource_missing", f"No such {what.replace('_', ' ')}.", param=name)


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if str(first.get("type", "")) == "json_invalid":
            return error_response(
                ApiError(400, "invalid_json", "The request body is not valid JSON.")
            )
        # an id of the wrong shape names nothing: 404, as an unknown one (README, "API")
        in_path = [e for e in errors if tuple(e.get("loc", ()))[:1] == ("path",)]
        if in_path:
            return error_response(_not_found(in_path[0]))
        content_type = request.headers.get("content-type")
        sent_body = request.headers.get("content-length", "0") != "0" or (
            "transfer-encoding" in request.headers
        )  # (no body at all is a missing body: 422, whatever the Content-Type)
        if (
            sent_body
            and any(tuple(e.get("loc", ()))[:1] == ("body",) for e in errors)
            and not is_json(content_type)
            and _reads_json(request)
        ):
            return error_response(content_type_error(content_type))
        return error_response(validation_error(errors))

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
        if is_database_unavailable(exc):
            log.warning(
                "database unavailable",
                extra={"route": route, "error_class": type(exc).__name__},
            )
            return error_response(DATABASE_UNAVAILABLE)
        log.error(
            "unhandled error",
            extra={"route": route, "error_class": type(exc).__name__},
            exc_info=exc,
        )
        return error_response(
            ApiError(500, "internal_error", "Something went wrong on our side; nothing was lost.")
        )
