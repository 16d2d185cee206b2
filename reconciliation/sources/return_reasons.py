"""What a returned payment's reason code says (pure): ISO 20022's ExternalReturnReason1Code
as SEPA's R-transactions use them (the EPC's guidance), in a finance officer's words. A
code not listed is shown as the bank wrote it, without a name."""

from __future__ import annotations

REASONS: dict[str, str] = {
    "AC01": "account number incorrect",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AC13": "debtor account is a consumer account",
    "AG01": "transaction forbidden on this account",
    "AG02": "invalid bank operation code",
    "AM04": "insufficient funds",
    "AM05": "duplicate payment",
    "BE04": "creditor address missing or incorrect",
    "BE05": "creditor identifier incorrect",
    "CNOR": "creditor bank not registered",
    "DNOR": "debtor bank not registered",
    "FF01": "invalid file format",
    "FOCR": "returned after a cancellation request",
    "MD01": "no mandate",
    "MD02": "mandate data missing or incorrect",
    "MD06": "refund requested by the payer",
    "MD07": "account holder deceased",
    "MS02": "refused by the account holder",
    "MS03": "reason not specified",
    "RC01": "bank identifier (BIC) incorrect",
    "RR01": "debtor account or identification missing (regulatory)",
    "RR02": "debtor name or address missing (regulatory)",
    "RR03": "creditor name or address missing (regulatory)",
    "RR04": "regulatory reason",
    "SL01": "specific service of the debtor's bank",
    "TM01": "received after the cut-off time",
}


def reason_name(code: str | None) -> str | None:
    """The words for a return reason code, None when it is not a listed one."""
    return None if code is None else REASONS.get(code.upper())


def return_words(code: str | None, info: tuple[str, ...]) -> str:
    """A return as one line: ``returned AC04 (account closed): COMPTE CLOTURE``."""
    name = reason_name(code)
    head = "returned" if code is None else f"returned {code}"
    if name:
        head += f" ({name})"
    return f"{head}: {' '.join(info)}" if info else head
