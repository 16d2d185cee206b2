"""camt.053 (ISO 20022 BankToCustomerStatement), versions 001.02 to 001.08, read with lxml.

Safety: the file is refused before parsing when it is larger than ``max_bytes`` or declares
a DOCTYPE or an entity (a bank statement has no use for either: this shuts out billion
laughs and XXE whatever the parser would do). The lxml parser itself neither resolves
entities, nor loads a DTD, nor touches the network, nor lifts libxml2's size limits
(``huge_tree=False``: no deep nesting, no giant text nodes); and a document that still
carries a DTD (written in an encoding the byte check cannot read, such as UTF-16) is
refused at its first element, before anything is read. These parser options are what
defusedxml's lxml module amounted to (that module is deprecated in their favour), so
defusedxml is not used.

The XML is streamed with ``iterparse``: a balance or an entry is read when its element
ends, then cleared, so memory follows the dataclasses, not libxml2's tree (about 45 MB for
a 15 MB file of 100,000 entries, against 220 MB for the whole tree).

Versions differ little where regie reads: the status is ``Sts`` text in 001.02 to 001.03
and ``Sts/Cd`` later (or a bank's ``Sts/Prtry``; ISO's code when it names one, in any case:
``camt053_model.entry_status``); related party names are ``Dbtr/Nm`` up to 001.07 and ``Dbtr/Pty/Nm``
in 001.08; a transaction's amount is ``AmtDtls/TxAmt/Amt`` in 001.02 and ``TxDtls/Amt``
later. Each is read both ways.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from typing import Any

from lxml import etree

from .camt053_checks import file_problems, sequence_gaps
from .camt053_model import Balance, BankStatementFile, Entry, Statement, TxDetail
from .camt053_reader import Reader
from .errors import SourceError
from .messages import Message, msg
from .parser_words import detail as parser_detail

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Balance",
    "BankStatementFile",
    "Entry",
    "Statement",
    "TxDetail",
    "parse_camt053",
    "sequence_gaps",
]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
FIRST_VERSION, LAST_VERSION = 2, 8
_ISO_NS = re.compile(r"urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.\d{3})\.(\d{3})\.(\d{2})")

Element = Any  # lxml.etree._Element (lxml ships no type stubs here)


def parse_camt053(
    data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> BankStatementFile:
    """Read a camt.053 file; raise ``SourceError`` (file, line, why) for anything unreadable.

    Consistency findings (balances that do not add up, sequence gaps, foreign-currency
    entries) do not raise: they are listed in ``problems``.
    """
    _precheck(data, filename, max_bytes)
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    r: Reader | None = None
    header: tuple[str, dt.datetime | None] | None = None
    statements: list[Statement] = []
    balances: list[Balance] = []
    entries: list[Entry] = []
    try:
        for _, el in events:
            if r is None:  # the first element to end: check the document before reading it
                root = el.getroottree().getroot()
                _refuse_doctype(root, data, filename)
                r = Reader(filename, etree.QName(root).namespace, _version(root, filename))
            parent = el.getparent()
            if parent is None or not isinstance(el.tag, str):
                continue
            if el.tag == r.tag_ntry and r.is_statement(parent):
                entries.append(r.entry(el))
                _drop_previous(el, r.tag_ntry)
            elif el.tag == r.tag_bal and r.is_statement(parent):
                balances.append(r.balance(el))
            elif r.is_statement(el):
                statements.append(r.statement(el, tuple(balances), tuple(entries)))
                balances, entries = [], []
                _drop_previous(el, r.tag_stmt)
            elif el.tag == r.tag_grphdr and r.is_body(parent):
                header = r.header(el)
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(data, filename, exc) from None
    assert r is not None  # a document has at least its root element
    root = events.root
    body = r.required(root, "BkToCstmrStmt", msg("where_document"))
    if header is None:
        raise r.fail(body, msg("no_group_header"))
    if not statements:
        raise r.fail(body, msg("no_statement_element"))
    stmts = tuple(statements)
    return BankStatementFile(
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
        version=r.version,
        message_id=header[0],
        created_at=header[1],
        statements=stmts,
        problems=tuple(file_problems(stmts)),
    )


def _precheck(data: bytes, filename: str, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise SourceError(filename, None, msg("file_too_large", size=len(data), limit=max_bytes))
    if not data.strip():
        raise SourceError(filename, None, msg("file_empty"))
    if not data.strip(b"\x00 \t\r\n"):
        raise SourceError(filename, None, msg("file_nul_only"))
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        at = data.find(marker)
        if at >= 0:
            raise SourceError(
                filename,
                data.count(b"\n", 0, at) + 1,
                msg("declares", marker=marker[2:].decode()),
            )


def _syntax_error(data: bytes, filename: str, exc: Exception) -> SourceError:
    """iterparse can report a vaguer error than the first one ("no element found" for an
    undefined entity); a plain parse of the refused file names the first error and line."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        etree.fromstring(data, parser)
    except etree.XMLSyntaxError as first:
        exc = first
    return SourceError(
        filename,
        getattr(exc, "lineno", None) or None,
        msg("not_xml", detail=_words(str(getattr(exc, "msg", exc)))),
    )


_WHERE = re.compile(r",?\s*line \d+, column \d+\s*$")
_ADVICE = re.compile(r",?\s*use XML_PARSE_HUGE option", re.IGNORECASE)


def _words(message: str) -> Message:
    """libxml2's words as a message (``parser_words``: in French too)."""
    return parser_detail(_plain_message(message))


def _plain_message(message: str) -> str:
    """libxml2's text as one plain line: without the position lxml appends (the error
    names its line already), the newline libxml2 leaves inside some messages, and its
    advice to lift a limit regie keeps on purpose."""
    message = _WHERE.sub("", message.strip())
    message = _ADVICE.sub("", message)
    return " ".join(message.split()).strip(" ,")


def _refuse_doctype(root: Element, data: bytes, filename: str) -> None:
    """A DOCTYPE the byte check could not see (UTF-16): refused before anything is read,
    at its line (read in the document's own encoding)."""
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        line = None
        for encoding in (docinfo.encoding, "utf-16", "utf-32"):
            try:
                text = data.decode(encoding or "utf-16")
            except (LookupError, UnicodeDecodeError):
                continue  # not this one; without any, the line is unknown
            at = text.find("<!DOCTYPE")
            if at >= 0:
                line = text.count("\n", 0, at) + 1
                break
        raise SourceError(filename, line, msg("declares_doctype"))


def _drop_previous(el: Element, tag: str) -> None:
    """Free what is read: empty this element and remove its already-read predecessor."""
    el.clear(keep_tail=True)
    previous = el.getprevious()
    if previous is not None and previous.tag == tag:
        el.getparent().remove(previous)


def _version(root: Element, filename: str) -> str:
    name = etree.QName(root)
    m = _ISO_NS.fullmatch(name.namespace or "")
    if name.localname != "Document" or m is None:
        if name.namespace:
            raise SourceError(
                filename,
                root.sourceline,
                msg("not_camt053_document_in", name=name.localname, namespace=name.namespace),
            )
        raise SourceError(
            filename, root.sourceline, msg("not_camt053_document", name=name.localname)
        )
    message, variant, number = m.groups()
    if message != "camt.053" or variant != "001":
        raise SourceError(
            filename,
            root.sourceline,
            msg("not_camt053_message", kind=f"{message}.{variant}.{number}"),
        )
    if not FIRST_VERSION <= int(number) <= LAST_VERSION:
        raise SourceError(
            filename,
            root.sourceline,
            msg(
                "version_unsupported",
                number=number,
                first=f"{FIRST_VERSION:02d}",
                last=f"{LAST_VERSION:02d}",
            ),
        )
    return f"001.{number}"
