"""Cells of the CSV files a finance officer opens in a spreadsheet (pure).

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or a
carriage return) as a formula: a payer's name, a description or a bank's remittance text
chosen by someone else must never become one (CSV injection). Such a start gets a leading
``'``, which the spreadsheet shows as text. Not only the value's start: Excel in a French
locale splits a ``.csv`` on ``;`` (the locale's list separator), and a value such as
``SUBV;=1+2`` would give it a cell ``=1+2``; so a formula start after a ``;`` or a ``,`` in
the value gets the same ``'`` (``SUBV;'=1+2``). So does one after a line break in the
value: read split on ``;``, a quote that does not open a field is plain text, so a line
break inside a quoted value ends the row there and what follows starts a new row's first
cell (``Permis``, a line break, ``'=1+2``).

Excel also reads a CSV without a byte order mark in the Windows code page (cp1252 in
France): ``Régie`` shows as ``RÃ©gie``. The files start with the UTF-8 one (``BOM``).
"""

from __future__ import annotations

import re

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a formula's first character at the value's start, after a separator either locale uses,
# or after a line break
_FORMULA = re.compile(f"(^|[;,\r\n])(?=[{re.escape(''.join(FORMULA_STARTS))}])")


def safe_cell(value: object) -> str:
    """The cell as a spreadsheet will show it, never run it (None is an empty cell)."""
    text = "" if value is None else str(value)
    return _FORMULA.sub(r"\1'", text)
