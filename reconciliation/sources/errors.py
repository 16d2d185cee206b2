"""The one error every input parser raises for a file it refuses."""

from __future__ import annotations

import unicodedata

from .messages import Message, msg

# what a file's name never keeps: control characters (a new line, a NUL, a terminal's escape
# sequence), format characters (a right-to-left override turns "gpj.xml" round) and line
# or paragraph separators
_DROPPED = frozenset({"Cc", "Cf", "Zl", "Zp"})
MAX_FILENAME = 255  # what ``bank_statement_imports.filename`` holds


def file_name(raw: str | None, default: str) -> str:
    """An uploaded file's name as regie keeps and says it: on one line, without the
    characters ``_DROPPED`` (said in messages, pages and ``regie reconcile``'s summary on a
    terminal, where an escape sequence would be obeyed), stripped, at most
    ``MAX_FILENAME`` characters; ``default`` when nothing is left."""
    name = "".join(c for c in raw or "" if unicodedata.category(c) not in _DROPPED)
    return name.strip()[:MAX_FILENAME] or default


class SourceError(ValueError):
    """A file regie cannot read, with where: ``statement.xml, line 42: …``.

    Parsers raise only this for bad input (never an lxml, csv, KeyError or decimal
    exception), so callers catch one type and show ``str(exc)`` as it is: the English the
    API and the command line say. ``words`` is the reason as a ``messages.Message``, which
    ``text(lang)`` says with its place in the page's language (a reason given as text is
    said as given, in English).
    """

    def __init__(self, filename: str, line: int | None, message: str | Message) -> None:
        super().__init__(filename, line, message)
        self.filename = filename
        self.line = line
        self.words = message if isinstance(message, Message) else msg("plain", text=message)
        self.message = self.words.text()

    def text(self, lang: str | None = None) -> str:
        """``statement.xml, line 42: …`` in English, ``statement.xml, ligne 42 : …`` in
        French; a page's ``lang`` writes the days of the reason in words, the API's English
        (no ``lang``) in ISO 8601 (``messages.Message.text``)."""
        reason = self.words.text(lang)
        if self.line is None:
            return msg("at_file", filename=self.filename, message=reason).text(lang)
        return msg("at_line", filename=self.filename, line=self.line, message=reason).text(lang)

    def __str__(self) -> str:
        return self.text()
