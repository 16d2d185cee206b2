"""The workspace's errors as pages in the officer's language (``app.state.error_pages``):
a file over the upload limit (named when its name is known), a page that does not exist, a
method the address does not take, a form that cannot be read, a NUL character in a form or
an address, an unexpected error. The API
(``/v1``) keeps its one JSON error shape; these are for a browser."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from reconciliation.run_checks import CheckError
from regie.finance.pages import show
from regie.finance.words import word
from regie.kit.errors import ApiError
from regie.kit.guards import DATE_OUT_OF_RANGE
from regie.kit.uploads import FileTooLarge
from regie.kit.web import page_lang

PREFIX = "/finance/"
# status -> (title, body) of its page; any other status is "refused", with the API's reason
KNOWN = {
    413: ("err_page_too_large_title", "err_page_too_large_body"),
    404: ("err_page_not_found_title", "err_page_not_found_body"),
    405: ("err_page_method_title", "err_page_method_body"),
    500: ("err_page_internal_title", "err_page_internal_body"),
    503: ("err_page_unavailable_title", "err_page_unavailable_body"),
}
REFUSED = ("err_page_refused_title", "err_page_refused_body")
# error code -> (title, body), before the status: what a browser can send by mistake
BY_CODE = {
    "invalid_character": ("err_page_nul_title", "err_page_nul_body"),
    "form_too_many_parts": ("err_page_parts_title", "err_page_parts_body"),
}
# Starlette's own 400 (a multipart body it cannot parse: no boundary, a part without a
# name): its reason is English, for a developer; the page says it in the officer's words
MALFORMED = ("err_page_malformed_title", "err_page_malformed_body")
# the edge guard's message -> (title, body): a day regie cannot count from (9999-12-31)
BY_MESSAGE = {DATE_OUT_OF_RANGE: ("err_page_date_title", "err_page_date_body")}


def size_text(limit: int, lang: str) -> str:
    """``4096`` -> ``4 Kio`` / ``4 KiB``; ``52428800`` -> ``50 Mio`` / ``50 MiB``."""
    units = ("o", "Kio", "Mio", "Gio") if lang == "fr" else ("B", "KiB", "MiB", "GiB")
    size, unit = float(limit), 0
    while size >= 1024 and unit < len(units) - 1:
        size, unit = size / 1024, unit + 1
    number = f"{size:.1f}".removesuffix(".0")
    return f"{number.replace('.', ',') if lang == 'fr' else number}\u00a0{units[unit]}"


def reason_text(err: ApiError, lang: str) -> str:
    """Why the service refused, in ``lang`` when it says so in words (a run's period: a
    ``CheckError``), else in the API's English."""
    return err.words.text(lang) if isinstance(err, CheckError) else err.message


def error_page(request: Request, err: ApiError) -> Response:
    lang = page_lang(request)
    title, body = (
        BY_CODE.get(err.code)
        or BY_MESSAGE.get(err.message)
        or (MALFORMED if (err.code, err.status) == ("http_error", 400) else None)
        or KNOWN.get(err.status, REFUSED)
    )
    limit = request.app.state.settings.max_upload_bytes
    if isinstance(err, FileTooLarge):  # a file over the limit, named (escaped by the page)
        body = "err_page_too_large_file_body"
    page = show(
        request,
        "finance/message.html",
        lang=lang,
        officer=None,
        status_code=err.status,
        title=word(title, lang),
        body=word(
            body,
            lang,
            limit=size_text(limit, lang),
            reason=reason_text(err, lang),
            name=getattr(err, "file", ""),
        ),
        link=("/finance/", word("back_to_dashboard", lang)),
        switch_path="/finance/",  # answering a form: switch on the page it links to
    )
    for name, value in (err.headers or {}).items():
        page.headers[name] = value  # a 405's Allow
    return page
