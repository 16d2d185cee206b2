"""The one error every input parser raises for a file it refuses."""

from __future__ import annotations


class SourceError(ValueError):
    """A file regie cannot read, with where: ``statement.xml, line 42: …``.

    Parsers raise only this for bad input (never an lxml, csv, KeyError or decimal
    exception), so callers catch one type and show ``str(exc)`` as it is.
    """

    def __init__(self, filename: str, line: int | None, message: str) -> None:
        super().__init__(filename, line, message)
        self.filename = filename
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = self.filename if self.line is None else f"{self.filename}, line {self.line}"
        return f"{where}: {self.message}"
