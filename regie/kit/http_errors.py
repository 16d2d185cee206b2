"""FastAPI's side of the one error shape (``regie.kit.errors``): the handlers that turn
every error into it, the response, and what the OpenAPI document says of errors."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import Receive, Scope, Send

from regie.kit.errors import (
    DATABASE_UNAVAILABLE,
    ApiError,
    ErrorBody,
    content_type_error,
    is_database_unavailable,
    is_json,
    validation_error,
)
from regie.kit.uploads import TooLargeWhileStreaming

log = logging.getLogger("regie.errors")

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


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status, headers=err.headers)


ErrorPage = Callable[[Request, ApiError], Response | None]  # None: the JSON error shape


def error_page(request: Request, err: ApiError) -> Response | None:
    """The page a browser's path answers ``err`` with: the app registers one per path prefix
    in ``app.state.error_pages`` (the finance workspace: ``/finance/``); None elsewhere, where
    the API keeps its one JSON error shape."""
    pages: dict[str, ErrorPage] = getattr(request.app.state, "error_pages", None) or {}
    for prefix, page in pages.items():
        if request.url.path.startswith(prefix):
            return page(request, err)
    return None


def respond(request: Request, err: ApiError) -> Response:
    """``err`` as its path's page, or in the one JSON error shape."""
    return error_page(request, err) or error_response(err)


async def send_error(scope: Scope, receive: Receive, send: Send, err: ApiError) -> None:
    """``respond`` for the middlewares, which answer before any route (a body too large)."""
    app = scope.get("app")
    page = error_page(Request(scope, receive), err) if app is not None else None
    await (page or error_response(err))(scope, receive, send)


def _reads_json(request: Request) -> bool:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None:
        return False
    return not isinstance(route.body_field.field_info, params.Form)  # File is a Form


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


INVALID_JSON = ApiError(400, "invalid_json", "The request body is not valid JSON.")
# what FastAPI raises (a 400 HTTPException) when parsing a body fails other than by a JSON
# syntax error (fastapi.routing, get_request_handler)
FASTAPI_BODY_UNREADABLE = "There was an error parsing the body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if str(first.get("type", "")) == "json_invalid":
            return error_response(INVALID_JSON)
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
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc, TooLargeWhileStreaming):  # an upload's 413, naming its file
            return respond(request, exc.error)
        if (
            exc.status_code == 400
            and exc.detail == FASTAPI_BODY_UNREADABLE
            and is_json(request.headers.get("content-type"))
        ):
            # the JSON parser gave up for another reason than a syntax error (bytes not
            # UTF-8 in a string, thousands of digits, nesting deeper than it goes, a gzip
            # body): for the client the same fault as JSON that does not parse (a form's
            # or an upload's keeps its own answer, a page for a browser's path)
            return respond(request, INVALID_JSON)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            exc.status_code, "http_error"
        )
        message = {404: "Not found.", 405: "Method not allowed."}.get(
            exc.status_code, str(exc.detail) if exc.detail else "Request error."
        )
        return respond(request, ApiError(exc.status_code, code, message, headers=headers or None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # the route's template, not the path: /pay/{token} must not write the token
        route = getattr(request.scope.get("route"), "path", None) or "(no route)"
        if is_database_unavailable(exc):
            log.warning(
                "database unavailable",
                extra={"route": route, "error_class": type(exc).__name__},
            )
            return respond(request, DATABASE_UNAVAILABLE)
        log.error(
            "unhandled error",
            extra={"route": route, "error_class": type(exc).__name__},
            exc_info=exc,
        )
        return respond(
            request,
            ApiError(500, "internal_error", "Something went wrong on our side; nothing was lost."),
        )
