"""What every workspace page shares: rendering with the workspace's words and menu."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from regie.finance.auth import Officer
from regie.finance.remarks import detail_lang, problem_text, reason_text
from regie.finance.words import word
from regie.kit.web import format_iso_date, render


def show(
    request: Request,
    template: str,
    *,
    lang: str,
    officer: Officer | None,
    nav: str | None = None,
    status_code: int = 200,
    switch_path: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A workspace page: the templates get ``ft`` (the workspace's words), the officer
    (for the menu and the logout form's CSRF token) and the current menu item; ``reason``
    and ``remark`` say a suggestion's reason and a statement's remark in the page's language;
    ``detail_lang`` gives the language of a discrepancy's detail (to mark regie's English)."""
    return render(
        request,
        template,
        lang=lang,
        status_code=status_code,
        switch_path=switch_path,
        ft=lambda key, **kw: word(key, lang, **kw),
        reason=lambda text: reason_text(text, lang),
        remark=lambda text: problem_text(text, lang),
        detail_lang=detail_lang,
        officer=officer,
        nav=nav,
        **context,
    )


def period_text(start: str, end: str, lang: str) -> str:
    """``2026-10-01``, ``2026-10-31`` -> ``du 1er octobre 2026 au 31 octobre 2026``."""
    return word(
        "period_text",
        lang,
        start=format_iso_date(start, lang),
        end=format_iso_date(end, lang),
    )
