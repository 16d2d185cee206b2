"""Whose account a camt.053 file is for, and whether regie would import it: the checks the
import makes (``imports.StatementImporter.parse``) and ``regie bank-statement show`` makes
too, so that a file ``show`` passes is a file the import takes. Pure.

A file regie imports holds at least one statement, every statement names its account, all
of them the same one, and its booked balances and entries are in the account's currency
(``camt053_checks.refuse_foreign_currency``). When regie's bank account is configured
(``REGIE_BANK_IBAN``, ``REGIE_BANK_CURRENCY``), the statements must be for that account and
in that currency; a part left unconfigured is not checked.
"""

from __future__ import annotations

from .camt053_checks import refuse_foreign_currency
from .camt053_model import BankStatementFile
from .errors import SourceError
from .messages import msg


def compact_iban(iban: str | None) -> str | None:
    """An IBAN as regie compares it: no spaces, upper case."""
    return None if iban is None else iban.replace(" ", "").upper()


def import_account(f: BankStatementFile, iban: str | None, currency: str | None) -> tuple[str, str]:
    """The file's account (compact) and currency, or ``SourceError`` naming the file and the
    line of what the import refuses. ``iban`` and ``currency`` are regie's bank account's,
    None (or empty) when not configured."""
    filename = f.filename
    iban = compact_iban(iban) or None
    currency = currency.upper() if currency else None
    if not f.statements:
        raise SourceError(filename, None, msg("no_statement"))
    refuse_foreign_currency(filename, f.statements)
    accounts: set[str] = set()
    currencies: set[str] = set()
    for st in f.statements:
        account = compact_iban(st.account)
        if not account:
            raise SourceError(filename, st.line, msg("statement_no_account", statement=st.id))
        if iban and account != iban:
            raise SourceError(
                filename,
                st.line,
                msg("other_account", statement=st.id, account=account),
            )
        cur = st.currency or (st.entries[0].currency if st.entries else None)
        if currency and cur and cur != currency:
            raise SourceError(
                filename,
                st.line,
                msg("statement_currency", statement=st.id, found=cur, currency=currency),
            )
        for e in st.entries:
            if currency and e.currency != currency:
                raise SourceError(
                    filename, e.line, msg("entry_currency", found=e.currency, currency=currency)
                )
        accounts.add(account)
        currencies.add(cur or "")
    if len(accounts) > 1:
        raise SourceError(filename, None, msg("several_accounts"))
    return accounts.pop(), sorted(currencies)[-1] or (currency or "")
