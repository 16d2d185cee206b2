"""What the reconciliation routes read from a request (``router`` stays thin): a run's
parameters, from JSON or multipart, with nothing ignored silently (an unknown or repeated
field, a date that is not "YYYY-MM-DD", a NUL), and a statement's name from ``X-Filename``."""

from __future__ import annotations

import json
from urllib.parse import unquote

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from reconciliation.schemas import RunCreate
from reconciliation.service import RunRequest
from reconciliation.sources.errors import file_name
from regie.kit.errors import ApiError, content_type_error, is_json, validation_error
from regie.kit.guards import NOT_PARSED, parsed_json
from regie.kit.uploads import refuse_large_files


async def read_upload(upload: object, param: str) -> tuple[str, bytes]:
    if not isinstance(upload, UploadFile):
        raise ApiError(422, "parameter_invalid", f"{param} must be a file.", param=param)
    return file_name(upload.filename, param), await upload.read()


def upload_limit(request: Request) -> int:
    """REGIE_MAX_UPLOAD_BYTES: each file's limit."""
    return int(request.app.state.settings.max_upload_bytes)


_READS = "multipart/form-data (files) or a JSON body (Content-Type: application/json)"
# a run's multipart fields: text, and files (camt053 the only one given more than once)
_TEXT = ("period_from", "period_to", "as_of", "provider")
_FILES_IN = ("stripe_csv", "camt053")
RUN_MAX_FILES = 20  # a run's multipart files: each up to REGIE_MAX_UPLOAD_BYTES


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable())[:60]


def _check_form(items: list[tuple[str, str | UploadFile]]) -> None:
    """Refuses what a run would otherwise ignore or misread: an unknown field, a field given
    twice (but camt053), a file where text is read or text where a file is, a NUL character in a text field (400
    ``invalid_character``, as in a JSON body or a form anywhere else)."""
    seen: set[str] = set()
    for key, value in items:
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise ApiError(
                400,
                "invalid_character",
                f"The field {_printable(key)} contains a NUL character (\\u0000), which regie "
                "does not take.",
                param=_printable(key) or None,
            )
        if key not in _TEXT and key not in _FILES_IN:
            raise ApiError(
                422,
                "parameter_unknown",
                f"Unknown field {_printable(key)!r}: a run reads {', '.join(_TEXT + _FILES_IN)}.",
                param=_printable(key),
            )
        if key in seen and key != "camt053":
            raise ApiError(422, "parameter_invalid", f"{key} is given more than once.", param=key)
        seen.add(key)
        if key in _TEXT and not isinstance(value, str):
            raise ApiError(422, "parameter_invalid", f"{key} is text, not a file.", param=key)
        if key in _FILES_IN and isinstance(value, str):
            raise ApiError(
                422,
                "parameter_invalid",
                f"{key} is a file: send it as a file part (with a filename), not as text.",
                param=key,
            )


async def run_request(request: Request, actor: str) -> RunRequest:
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=RUN_MAX_FILES, max_fields=20)
        _check_form(form.multi_items())
        refuse_large_files(form.multi_items(), upload_limit(request), file_name)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            body = RunCreate.model_validate(fields)
        except ValidationError as err:
            raise _validation(err) from None
        csv_file = form.get("stripe_csv")
        stripe_csv = await read_upload(csv_file, "stripe_csv") if csv_file is not None else None
        camt = [await read_upload(f, "camt053") for f in form.getlist("camt053")]
        return RunRequest(
            body.period_from, body.period_to, actor, stripe_csv, camt, body.as_of, body.provider
        )
    raw_body = await request.body()
    if raw_body and not is_json(ctype):
        raise content_type_error(ctype or None, reads=_READS)
    raw = parsed_json(request.scope)  # the edge guard's, when it parsed the body
    if raw is NOT_PARSED:
        try:
            raw = json.loads(raw_body or b"{}")
        # undecodable bytes (found by fuzzing), a body nested deeper than Python recurses
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
    try:
        body = RunCreate.model_validate(raw)
    except ValidationError as err:
        raise _validation(err) from None
    return RunRequest(
        body.period_from, body.period_to, actor, as_of=body.as_of, provider=body.provider
    )


def _validation(err: ValidationError) -> ApiError:
    return validation_error(err.errors())  # every invalid field, in the one error shape


STATEMENT_TYPES = ("application/xml", "text/xml", "application/octet-stream")
STATEMENT_READS = (
    "a camt.053 file: multipart/form-data (field file), or the file as the body with "
    "Content-Type application/xml, text/xml or application/octet-stream"
)


def header_filename(request: Request) -> str:
    """``X-Filename``: ASCII (an HTTP header carries no other text), a name in another
    alphabet percent-encoded in UTF-8 (``r%C3%A9lev%C3%A9.xml``, optionally RFC 5987's
    ``UTF-8''...``). A raw non-ASCII name is refused: read as the header's Latin-1, it would
    be stored as ``rÃ©levÃ©.xml``."""
    raw = request.headers.get("x-filename")
    if raw is None:
        return "statement.xml"
    if not raw.isascii():
        raise ApiError(
            422,
            "parameter_invalid",
            "X-Filename carries ASCII only: send a name in another alphabet percent-encoded "
            "in UTF-8 (rélevé.xml as r%C3%A9lev%C3%A9.xml).",
            param="X-Filename",
        )
    if raw[:7].lower() == "utf-8''":
        raw = raw[7:]
    try:
        name = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise ApiError(
            422, "parameter_invalid", "X-Filename is not percent-encoded UTF-8.",
            param="X-Filename",
        ) from None  # fmt: skip
    if "\x00" in name:
        raise ApiError(
            400, "invalid_character",
            "X-Filename contains a NUL character (\\u0000), which regie does not take.",
            param="X-Filename",
        )  # fmt: skip
    return file_name(name, "statement.xml")
