"""Server-rendered pages: one Jinja2 environment, the shared layout and filters."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from regie.kit.i18n import format_date as format_date  # (the pages' filter, and callers')
from regie.kit.i18n import format_iso_date as format_iso_date
from regie.kit.i18n import negotiate, translate
from regie.kit.money import format_money

LANG_COOKIE = "regie_lang"

# Pages carry no inline script or style, load nothing from elsewhere, and cannot be framed
# (clickjacking a pay button). The pay token never leaves in a Referer header.
PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

# Packages that ship templates. Named, not imported: the shell depends on no domain code.
TEMPLATE_PACKAGES = (
    "regie.kit",
    "payments",
    "payments.providers.simulator",
    "receipts",
    "regie.finance",
)


def build_environment() -> Environment:
    env = Environment(
        loader=ChoiceLoader([PackageLoader(p, "templates") for p in TEMPLATE_PACKAGES]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda amount, currency, lang="fr": format_money(amount, currency, lang)
    env.filters["localdate"] = format_date
    env.filters["isodate"] = format_iso_date
    env.filters["whole"] = keep_whole
    return env


def keep_whole(text: str, part: str) -> Markup:
    """``text``, escaped, with ``part`` kept on one line (a document number is never broken
    at its hyphens: ``2026-`` / ``000010``)."""
    escaped = escape(text)
    if not part:
        return escaped
    before, found, after = escaped.partition(escape(part))
    if not found:
        return escaped
    return before + Markup('<span class="nowrap">{}</span>').format(part) + after


def accepts_html(accept: str | None) -> bool:
    """Whether a request's ``Accept`` header asks for a page: ``text/html`` (or XHTML)
    accepted, and not less than JSON. A browser opening a link sends it; curl's ``*/*``
    and an API client's ``application/json`` do not (wildcards count for neither)."""
    html = json = 0.0
    for part in (accept or "").split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        kind = kind.lower()
        if kind in ("text/html", "application/xhtml+xml"):
            html = max(html, q)
        elif kind == "application/json":
            json = max(json, q)
    return html > 0 and html >= json


def page_lang(request: Request, default: str | None = None) -> str:
    accept = request.headers.get("accept-language")
    chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if default and not accept and not chosen:
        return default
    return negotiate(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE), accept)


def render(
    request: Request,
    template: str,
    *,
    lang: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
    switch_path: str | None = None,
    **more: Any,
) -> HTMLResponse:
    env: Environment = request.app.state.templates

    def t(key: str, **kw: object) -> str:
        return translate(key, lang, **kw)

    other = "en" if lang == "fr" else "fr"
    url = request.url
    if request.method != "GET":  # e.g. an error page answering a POST: switch on its GET page
        url = url.replace(path=switch_path or "/")
    switch_url = url.include_query_params(lang=other)
    html = env.get_template(template).render(
        t=t,
        lang=lang,
        other_lang=other,
        switch_url=str(switch_url.path) + "?" + switch_url.query,
        **(context or {}),
        **more,
    )
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(PAGE_SECURITY_HEADERS)
    response.headers["Content-Language"] = lang
    if request.query_params.get("lang") in ("fr", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response
