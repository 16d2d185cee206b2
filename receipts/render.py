"""Render a ``ReceiptDocument`` to PDF bytes: the receipt's layout on A4 pages.

Pure: no database, no network, no clock; the only I/O is reading the bundled fonts (see
``receipts.typeset``). Deterministic: the same document gives the same bytes
(``invariant=1``, fixed metadata; the creation date is the document's issue date), so regie can store and compare the
SHA-256 of a receipt. The words come from ``receipts.words``, the QR code from
``receipts.qr``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import threading
from collections.abc import Sequence
from typing import Final

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from receipts.document import ReceiptDocument, ReceiptLine
from receipts.qr import draw_qr
from receipts.typeset import (
    BLUE,
    BODY_SIZE,
    FONT,
    FONT_BOLD,
    GREY,
    HEADER_FILL,
    LEFT,
    MARGIN,
    PAGE_H,
    PAGE_W,
    RIGHT,
    WIDTH,
    Page,
    register_fonts,
    wrap,
)
from receipts.words import contact_lines, issuer_identifier, payment_method, payment_time, word
from regie.kit.money import format_money

QR_SIZE: Final = 32 * mm
FOOTER_Y: Final = 12 * mm
QR_Y: Final = FOOTER_Y + 40  # the QR code's lower edge: room for the URL and a quiet zone
QR_QUIET: Final = 4 * mm  # light margin around the symbol (ISO 18004 asks 4 modules)
VERIFY_TOP: Final = QR_Y + QR_SIZE + QR_QUIET + 8  # the last page's content stops above this

# Lines table: description | quantity | unit amount | amount (right edges of the numbers).
COL_QTY_RIGHT: Final = LEFT + WIDTH * 0.64
COL_UNIT_RIGHT: Final = LEFT + WIDTH * 0.82
COL_AMOUNT_RIGHT: Final = RIGHT - 6
DESC_X: Final = LEFT + 6
DESC_WIDTH: Final = COL_QTY_RIGHT - 40 - DESC_X
ROW_LEADING: Final = 12.5
ROW_PAD: Final = 5.0


def _header(p: Page, doc: ReceiptDocument) -> float:
    """Issuer on the left, title and number on the right; returns the y below them."""
    p.fill_rect(0, PAGE_H - 5, PAGE_W, 5, BLUE)
    top = PAGE_H - MARGIN
    # Issuer block.
    y = top - 4
    for line in wrap(doc.issuer_name, FONT_BOLD, 12, WIDTH * 0.52):
        p.text(LEFT, y, line, size=12, bold=True)
        y -= 15
    y -= 1
    if doc.regie_name:
        for line in wrap(doc.regie_name, FONT, 9.5, WIDTH * 0.52):
            p.text(LEFT, y, line, size=9.5)
            y -= 12
    for address_line in doc.issuer_address:
        for line in wrap(address_line, FONT, 9, WIDTH * 0.52):
            p.text(LEFT, y, line, size=9, color=GREY)
            y -= 11.5
    for line in wrap(issuer_identifier(doc.issuer_identifier), FONT, 9, WIDTH * 0.52):
        p.text(LEFT, y, line, size=9, color=GREY)
        y -= 11.5
    for contact in contact_lines(doc):
        for line in wrap(contact, FONT, 9, WIDTH * 0.52):
            p.text(LEFT, y, line, size=9, color=GREY)
            y -= 11.5
    # Title block.
    title = word("title_receipt" if doc.kind == "receipt" else "title_credit_note", doc.language)
    ty = top - 12
    p.text(RIGHT, ty, title, size=19, bold=True, color=BLUE, align="right")
    ty -= 20
    p.text(
        RIGHT,
        ty,
        word("number", doc.language, number=doc.number),
        size=12,
        bold=True,
        align="right",
    )
    ty -= 15
    if doc.credit_note_for is not None:
        p.text(
            RIGHT,
            ty,
            word("credit_note_for", doc.language, number=doc.credit_note_for),
            size=10,
            color=GREY,
            align="right",
        )
        ty -= 13
    return min(y, ty) - 8


def _details(p: Page, doc: ReceiptDocument, y: float) -> float:
    """Two columns of label over value; returns the y below the block."""
    refund = doc.kind == "credit_note"
    cells = [
        (word("refunded_at" if refund else "paid_at", doc.language), payment_time(doc)),
        (
            word("refunded_to" if refund else "payer", doc.language),
            "\n".join((doc.payer_name, *doc.payer_address)),
        ),
        (word("invoice_number", doc.language), doc.invoice_number),
        (word("invoice_reference", doc.language), doc.invoice_reference),
        (word("payment_method", doc.language), payment_method(doc)),
        (word("transaction_reference", doc.language), doc.psp_reference),
    ]
    col_w = WIDTH / 2 - 10
    for i in range(0, len(cells), 2):
        row_bottom = y
        for j, (label, value) in enumerate(cells[i : i + 2]):
            x = LEFT + j * (WIDTH / 2)
            cy = y - 9
            p.text(x, cy, label, size=8, color=GREY)
            cy -= 13.5
            for line in wrap(value, FONT, 10.5, col_w):
                p.text(x, cy, line, size=10.5)
                cy -= 13
            row_bottom = min(row_bottom, cy)
        y = row_bottom - 6
    return y


def _table_header(p: Page, lang: str, y: float) -> float:
    p.fill_rect(LEFT, y - 18, WIDTH, 18, HEADER_FILL)
    base = y - 12.5
    p.text(DESC_X, base, word("description", lang), size=8.5, bold=True)
    p.text(COL_QTY_RIGHT, base, word("quantity", lang), size=8.5, bold=True, align="right")
    p.text(COL_UNIT_RIGHT, base, word("unit_amount", lang), size=8.5, bold=True, align="right")
    p.text(COL_AMOUNT_RIGHT, base, word("amount", lang), size=8.5, bold=True, align="right")
    return y - 18


def _row_height(lines: list[str]) -> float:
    return len(lines) * ROW_LEADING + 2 * ROW_PAD - (ROW_LEADING - BODY_SIZE)


def _line_row(p: Page, doc: ReceiptDocument, line: ReceiptLine, desc: list[str], y: float) -> float:
    base = y - ROW_PAD - BODY_SIZE + 1.5
    for i, text in enumerate(desc):
        p.text(DESC_X, base - i * ROW_LEADING, text)
    lang = doc.language
    p.text(COL_QTY_RIGHT, base, str(line.quantity), align="right")
    p.text(COL_UNIT_RIGHT, base, format_money(line.unit_amount, doc.currency, lang), align="right")
    p.text(COL_AMOUNT_RIGHT, base, format_money(line.amount, doc.currency, lang), align="right")
    y -= _row_height(desc)
    p.rule(y, width=0.4)
    return y


def _total(p: Page, doc: ReceiptDocument, y: float) -> float:
    label = word("total_receipt" if doc.kind == "receipt" else "total_credit_note", doc.language)
    amount = format_money(doc.total, doc.currency, doc.language)
    box_left = LEFT + WIDTH * 0.5
    p.fill_rect(box_left, y - 30, RIGHT - box_left, 26, HEADER_FILL)
    p.fill_rect(box_left, y - 30, 2.5, 26, BLUE)
    p.text(box_left + 12, y - 21, label, size=11, bold=True)
    p.text(COL_AMOUNT_RIGHT, y - 21.5, amount, size=13, bold=True, align="right")
    p.text(
        COL_AMOUNT_RIGHT,
        y - 42,
        word("currency", doc.language, currency=doc.currency),
        size=8,
        color=GREY,
        align="right",
    )
    return y - 48


def _verify_block(p: Page, doc: ReceiptDocument) -> None:
    """QR code at the bottom right, the URL under it, a short explanation to its left."""
    qr_y = QR_Y
    qr_x = RIGHT - QR_SIZE
    if p.c is not None:
        draw_qr(p.c, doc.verify_url, qr_x, qr_y, QR_SIZE)
    size = 7.5
    while size > 5 and pdfmetrics.stringWidth(doc.verify_url, FONT, size) > WIDTH:
        size -= 0.5
    url_lines = wrap(doc.verify_url, FONT, size, WIDTH)
    uy = qr_y - QR_QUIET - 6
    for line in url_lines:
        p.text(RIGHT, uy, line, size=size, color=GREY, align="right")
        uy -= size + 2
    text_right = qr_x - 16
    text_left = text_right - 215
    ty = qr_y + QR_SIZE - 12
    heading = word(
        "verify_receipt" if doc.kind == "receipt" else "verify_credit_note", doc.language
    )
    p.text(text_left, ty, heading, size=10, bold=True)
    ty -= 14
    for line in wrap(word("verify_help", doc.language), FONT, 8.5, text_right - text_left):
        p.text(text_left, ty, line, size=8.5, color=GREY)
        ty -= 11


def _footer(p: Page, doc: ReceiptDocument, page: int, pages: int) -> None:
    p.rule(FOOTER_Y + 10, width=0.4)
    left = f"{doc.issuer_name} · {word('number', doc.language, number=doc.number)}"
    if pdfmetrics.stringWidth(left, FONT, 7.5) > WIDTH * 0.75:
        left = wrap(left, FONT, 7.5, WIDTH * 0.75)[0] + "…"
    p.text(LEFT, FOOTER_Y, left, size=7.5, color=GREY)
    p.text(
        RIGHT,
        FOOTER_Y,
        word("page", doc.language, page=page, pages=pages),
        size=7.5,
        color=GREY,
        align="right",
    )


def _statement(p: Page, doc: ReceiptDocument, y: float) -> float:
    """Under the total: the amount in words, what the document attests, a credit note's
    reason and what remains paid, the VAT mention."""
    lang = doc.language
    if doc.amount_in_words:
        for line in wrap(word("in_words", lang, words=doc.amount_in_words), FONT, 9.5, WIDTH):
            p.text(LEFT, y, line, size=9.5)
            y -= 12.5
        y -= 3
    paragraphs = [
        word(
            "statement_receipt" if doc.kind == "receipt" else "statement_credit_note",
            lang,
            invoice=doc.invoice_number,
        )
    ]
    if doc.refund_reason:
        paragraphs.append(word("refund_reason", lang, reason=doc.refund_reason))
    if doc.remaining_amount is not None:
        amount = format_money(doc.remaining_amount, doc.currency, lang)
        paragraphs.append(word("remaining_amount", lang, amount=amount))
    if doc.vat_article:
        paragraphs.append(word("vat_mention", lang, article=doc.vat_article))
    for paragraph in paragraphs:
        for line in wrap(paragraph, FONT, 9, WIDTH):
            p.text(LEFT, y, line, size=9, color=GREY)
            y -= 12
    return y


TABLE_HEADER_H: Final = 18.0
TAIL_H: Final = 8 + 48 + 30  # below the last row: the total box, the currency, the statement


def tail_height(doc: ReceiptDocument) -> float:
    """What the last page holds below the last row: ``TAIL_H`` for the total box, the
    currency and the statement, plus what else is printed under them (measured)."""
    bare = dataclasses.replace(
        doc, amount_in_words=None, refund_reason=None, remaining_amount=None, vat_article=None
    )
    return TAIL_H + _statement(Page(None), bare, 0.0) - _statement(Page(None), doc, 0.0)


CONTINUED_TOP: Final = PAGE_H - MARGIN - 30  # where the table starts on later pages
BOTTOM_LIMIT: Final = FOOTER_Y + 24  # the lowest a row may end on a page without the QR


def paginate(heights: Sequence[float], first_top: float, tail_h: float = TAIL_H) -> list[list[int]]:
    """Share rows of these heights out between pages: indices of the rows on each page.

    Rows fill each page down to the footer; the last page must also hold the total, the
    statement and the QR block, so rows that would sit on them move to one more page (at
    least one row comes along: a page with only a total would look like a mistake).
    """
    pages: list[list[int]] = [[]]
    bottoms: list[list[float]] = [[]]
    y = first_top - TABLE_HEADER_H
    for i, h in enumerate(heights):
        if pages[-1] and y - h < BOTTOM_LIMIT:
            pages.append([])
            bottoms.append([])
            y = CONTINUED_TOP - TABLE_HEADER_H
        y -= h
        pages[-1].append(i)
        bottoms[-1].append(y)
    last, last_bottoms = pages[-1], bottoms[-1]
    fit = 0
    while fit < len(last) and last_bottoms[fit] - tail_h >= VERIFY_TOP:
        fit += 1
    if fit == len(last):
        return pages
    keep = min(fit, len(last) - 1)
    if keep == 0 and len(pages) > 1:
        return pages  # a continuation page cannot hold one row and the total: never in practice
    pages[-1:] = [last[:keep], last[keep:]]
    return pages


# reportlab's TrueType subsetting keeps per-document state on the shared font objects:
# two canvases embedding the same font at once in two threads can mix their subsets (seen
# as different bytes under load). Rendering is CPU-bound Python, so a lock costs nothing.
_render_lock = threading.Lock()


def render_pdf(doc: ReceiptDocument) -> bytes:
    """The receipt (or credit note) as a one- or multi-page A4 PDF, byte-for-byte stable.
    Safe to call from several threads (``asyncio.to_thread``)."""
    with _render_lock:
        return _render(doc)


def _render(doc: ReceiptDocument) -> bytes:
    register_fonts()
    lang = doc.language
    title = word("title_receipt" if doc.kind == "receipt" else "title_credit_note", lang)
    buf = io.BytesIO()
    c = Canvas(
        buf,
        pagesize=A4,
        invariant=1,
        pageCompression=1,
        initialFontName=FONT,
        initialFontSize=BODY_SIZE,
        lang=lang,
    )
    c.setTitle(f"{title} {doc.number}")
    c.setAuthor(doc.issuer_name)
    c.setSubject(f"{title} {doc.number} – {doc.invoice_number}")
    c.setCreator("regie")
    if doc.issued_at is not None:  # the creation date is the issue date (UTC), not "now"
        stamp = doc.issued_at.astimezone(dt.UTC).strftime("D:%Y%m%d%H%M%S+00'00'")
        c.setDateFormatter(lambda *_: stamp)
    p = Page(c)

    # Lay the rows out first so that each page knows how many pages there are.
    rows = [(line, wrap(line.description, FONT, BODY_SIZE, DESC_WIDTH)) for line in doc.lines]
    heights = [_row_height(desc) for _, desc in rows]
    plan = paginate(heights, _measure_top(doc), tail_height(doc))
    pages = [[rows[i] for i in page] for page in plan]

    for number, page_rows in enumerate(pages, start=1):
        if number == 1:
            y = _header(p, doc)
            p.rule(y + 2, color=BLUE, width=1.2)
            y = _details(p, doc, y - 8) - 4
        else:
            p.text(
                LEFT,
                PAGE_H - MARGIN - 4,
                f"{title} {word('number', lang, number=doc.number)} {word('continued', lang)}",
                size=10,
                bold=True,
            )
            y = CONTINUED_TOP
        if page_rows:
            y = _table_header(p, lang, y)
            for line, desc in page_rows:
                y = _line_row(p, doc, line, desc, y)
        if number == len(pages):
            y = _total(p, doc, y - 8)
            _statement(p, doc, y - 10)
            _verify_block(p, doc)
        _footer(p, doc, number, len(pages))
        p.new_page()
    c.save()
    return buf.getvalue()


def _measure_top(doc: ReceiptDocument) -> float:
    """Where the lines table starts on the first page: the header and details, measured."""
    dry = Page(None)
    return _details(dry, doc, _header(dry, doc) - 8) - 4
