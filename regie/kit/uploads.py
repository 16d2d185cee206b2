"""REGIE_MAX_UPLOAD_BYTES is a limit on each file, and its 413 names the file.

``BodyLimitMiddleware`` bounds an upload's whole body: the limit (a file's, and the most a
request's files hold together, so one request's disk and memory stay bounded) plus
``PART_ALLOWANCE`` for each file part's framing (its boundary and headers, the form's text
fields). Once the form is parsed (Starlette spools a large part to disk, so the
memory stays bounded), ``refuse_large_files`` refuses any one file over the limit, then
files over it together. Both say
``releve.xml: the file is larger than 52428800 bytes (REGIE_MAX_UPLOAD_BYTES).``: the name
from ``X-Filename`` for a file sent as the body, from the first file part's
``Content-Disposition`` (in the body's first ``SNIFF_BYTES``, never more) for multipart.
Without a name, the body's limit is said as before."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import unquote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from regie.kit.errors import ApiError

PART_ALLOWANCE = 64 * 1024  # a file part's framing, and the form's text fields
SNIFF_BYTES = 64 * 1024  # read at most this much of a body to find its file's name

# a file's raw name -> the name regie says ("" when nothing is left): the app passes
# ``reconciliation.sources.errors.file_name`` (control characters dropped)
Namer = Callable[[str | None, str], str]


class FileTooLarge(ApiError):
    """413 naming the file (``file``: a page says it in its own words)."""

    def __init__(self, name: str, limit: int) -> None:
        super().__init__(
            413,
            "body_too_large",
            f"{name}: the file is larger than {limit} bytes (REGIE_MAX_UPLOAD_BYTES).",
        )
        self.file = name
        self.limit = limit


def body_too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"The request body is larger than {limit} bytes.")


def files_too_large(limit: int) -> ApiError:
    """A request's files (a run's statements and report) larger than the limit together."""
    return ApiError(
        413,
        "body_too_large",
        f"The files are larger than {limit} bytes together (REGIE_MAX_UPLOAD_BYTES).",
    )


class TooLargeWhileStreaming(HTTPException):
    """What the middleware raises mid-body: an ``HTTPException`` passes through FastAPI's
    body parsing untouched; the app's handler answers with ``error``."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(413, error.message)
        self.error = error


def header_name(raw: bytes | None) -> str | None:
    """``X-Filename`` as the route reads it (ASCII, percent-encoded UTF-8, optionally
    ``UTF-8''``); None when there is none or the route would refuse it."""
    if not raw or not raw.isascii():
        return None
    text = raw.decode("ascii")
    if text[:7].lower() == "utf-8''":
        text = text[7:]
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        return None


_FILENAME = re.compile(rb'(?i)^content-disposition:[^\r\n]*?;\s*filename="([^"\r\n]*)"')


def multipart_name(head: bytes) -> str | None:
    """The first file part's ``filename`` in the first bytes of a multipart body (a
    browser's, httpx's or curl's quoted name); None when the bytes hold none."""
    for line in head.split(b"\r\n"):
        found = _FILENAME.match(line)
        if found:
            return found.group(1).decode("utf-8", errors="replace")
    return None


def refuse_large_files(items: Iterable[tuple[str, object]], limit: int, namer: Namer) -> None:
    """``FileTooLarge`` for the first file of a parsed form over ``limit``, else
    ``files_too_large`` when its files together are (before anything is read or stored)."""
    total = 0
    for key, value in items:
        if isinstance(value, UploadFile):
            if (value.size or 0) > limit:
                raise FileTooLarge(namer(value.filename, key), limit)
            total += value.size or 0
    if total > limit:
        raise files_too_large(limit)
