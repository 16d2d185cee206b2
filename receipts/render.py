"""Render a ``ReceiptDocument`` to PDF bytes: pure, deterministic, fonts embedded.

Pure: no database, no network, no clock; the only I/O is reading the DejaVu fonts shipped
in ``receipts/fonts`` (registered once per process). Deterministic: the same document
gives the same bytes (``invariant=1``, fixed metadata, no creation date), so regie can
store and compare the SHA-256 of a receipt. Every font in the PDF is an embedded
TrueType subset: the canvas starts on DejaVu Sans, so reportlab never names Helvetica.

The QR code (the verification URL) is encoded by segno and drawn as ONE path of
rectangles covering its dark modules, filled once; reportlab's QR widget is slow. Its mask
is chosen here by the standard's penalty rules, several times faster than segno's search.
"""

from __future__ import annotations

import functools
import io
import re
import threading
from collections.abc import Sequence
from importlib.resources import files
from typing import Final

import segno
from babel.dates import format_date
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas

from receipts.document import ReceiptDocument, ReceiptLine
from regie.kit.money import format_money

FONT: Final = "RegieSans"
FONT_BOLD: Final = "RegieSans-Bold"
_FONT_FILES: Final = {FONT: "DejaVuSans.ttf", FONT_BOLD: "DejaVuSans-Bold.ttf"}
_fonts_lock = threading.Lock()
_fonts_ready = False


def register_fonts() -> None:
    """Register the shipped TrueType fonts with reportlab, once per process."""
    global _fonts_ready
    if _fonts_ready:
        return
    with _fonts_lock:
        if _fonts_ready:
            return
        folder = files("receipts").joinpath("fonts")
        for name, filename in _FONT_FILES.items():
            with folder.joinpath(filename).open("rb") as fh:
                pdfmetrics.registerFont(TTFont(name, io.BytesIO(fh.read())))
        _fonts_ready = True


# ---------------------------------------------------------------------------------------
# Words

_BABEL_LOCALES: Final = {"fr": "fr_FR", "en": "en_GB"}

# French puts a no-break space (\u00a0) before ":" and after "n°".
LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "title_receipt": "Reçu de paiement",
        "title_credit_note": "Avoir",
        "number": "N°\u00a0{number}",
        "credit_note_for": "Relatif au reçu n°\u00a0{number}",
        "paid_at": "Date du paiement",
        "refunded_at": "Date du remboursement",
        "at": "{date} à {time}",
        "payer": "Payé par",
        "refunded_to": "Remboursé à",
        "invoice_number": "Numéro de facture",
        "invoice_reference": "Référence",
        "payment_method": "Moyen de paiement",
        "card": "Carte",
        "bank_card": "Carte bancaire",
        "psp_reference": "Référence de la transaction",
        "description": "Désignation",
        "quantity": "Qté",
        "unit_amount": "Prix unitaire",
        "amount": "Montant",
        "total_receipt": "Total payé",
        "total_credit_note": "Total remboursé",
        "currency": "Devise\u00a0: {currency}",
        "statement_receipt": "Ce reçu atteste le paiement de la facture n°\u00a0{invoice}.",
        "statement_credit_note": "Cet avoir atteste le remboursement d'un paiement "
        "de la facture n°\u00a0{invoice}.",
        "verify_receipt": "Vérifier ce reçu",
        "verify_credit_note": "Vérifier cet avoir",
        "verify_help": "Scannez le code QR ou saisissez l'adresse imprimée sous le code "
        "pour vérifier que ce document est authentique.",
        "page": "Page {page}/{pages}",
        "continued": "(suite)",
    },
    "en": {
        "title_receipt": "Payment receipt",
        "title_credit_note": "Credit note",
        "number": "No. {number}",
        "credit_note_for": "For receipt no. {number}",
        "paid_at": "Payment date",
        "refunded_at": "Refund date",
        "at": "{date} at {time}",
        "payer": "Paid by",
        "refunded_to": "Refunded to",
        "invoice_number": "Invoice number",
        "invoice_reference": "Reference",
        "payment_method": "Payment method",
        "card": "Card",
        "bank_card": "Bank card",
        "psp_reference": "Transaction reference",
        "description": "Description",
        "quantity": "Qty",
        "unit_amount": "Unit price",
        "amount": "Amount",
        "total_receipt": "Total paid",
        "total_credit_note": "Total refunded",
        "currency": "Currency: {currency}",
        "statement_receipt": "This receipt confirms the payment of invoice no. {invoice}.",
        "statement_credit_note": "This credit note confirms a refund of a payment "
        "of invoice no. {invoice}.",
        "verify_receipt": "Check this receipt",
        "verify_credit_note": "Check this credit note",
        "verify_help": "Scan the QR code or type the address printed under it "
        "to check that this document is genuine.",
        "page": "Page {page} of {pages}",
        "continued": "(continued)",
    },
}

CARD_BRANDS: Final = {
    "visa": "VISA",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "cb": "CB",
    "cartes_bancaires": "CB",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
    "maestro": "Maestro",
}


def payment_method(doc: ReceiptDocument) -> str:
    """``VISA •••• 4242``: the brand and the last four digits, never more."""
    words = LABELS[doc.language]
    brand = (
        CARD_BRANDS.get(doc.card_brand.strip().lower(), doc.card_brand.strip().upper())
        if doc.card_brand and doc.card_brand.strip()
        else None
    )
    if doc.card_last4 is None:
        return brand or words["bank_card"]
    return f"{brand or words['card']} •••• {doc.card_last4}"


def payment_time(doc: ReceiptDocument) -> str:
    """``14 mars 2026 à 10:32 (Europe/Paris)``, on the issuer's wall clock."""
    local = doc.local_paid_at
    day = format_date(local.date(), format="long", locale=_BABEL_LOCALES[doc.language])
    when = LABELS[doc.language]["at"].format(date=day, time=f"{local:%H:%M}")
    return f"{when} ({doc.issuer_timezone})"


def issuer_identifier(identifier: str) -> str:
    """Name the French identifiers (14 digits: SIRET, 9: SIREN); leave others as given."""
    digits = identifier.replace(" ", "").replace("\u00a0", "")
    if digits.isascii() and digits.isdigit():
        if len(digits) == 14:
            return f"SIRET {digits[0:3]} {digits[3:6]} {digits[6:9]} {digits[9:]}"
        if len(digits) == 9:
            return f"SIREN {digits[0:3]} {digits[3:6]} {digits[6:]}"
    return identifier


# ---------------------------------------------------------------------------------------
# QR code

QR_ERROR: Final = "m"  # 15 % of the symbol can be lost: a fold, a stain, a staple.
_BITS: Final = bytes.maketrans(b"\x00\x01", b"01")


def _rows(code: segno.QRCode) -> list[int]:
    """The symbol's rows as integers, the leftmost module in the highest bit."""
    return [int(row.translate(_BITS), 2) for row in code.matrix]


def _transpose(rows: Sequence[int], size: int) -> list[int]:
    """Columns as integers, the top module in the highest bit."""
    strs = [format(r, f"0{size}b") for r in rows]
    return [int("".join(col), 2) for col in zip(*strs, strict=True)]


# The penalty is computed on whole symbols packed into one integer: line i (a row, or a
# column) at bit i * stride + 4, with 8 light bits between lines, so that a shift, an AND
# and a popcount score every line at once. Those light bits are the quiet zone for N3.
def _pack(lines: Sequence[int], size: int) -> int:
    stride = size + 8
    packed = 0
    for i, line in enumerate(lines):
        packed |= line << (i * stride + 4)
    return packed


@functools.lru_cache(maxsize=32)
def _valid(size: int, width: int, lines: int) -> int:
    """Bits p where ``width`` modules from p lie within one of the first ``lines`` lines."""
    run = (1 << (size - width + 1)) - 1
    return _pack([run] * lines, size)


def _penalty(rows: int, cols: int, size: int) -> int:
    """ISO/IEC 18004 penalty of a packed symbol (see ``mask_penalty``)."""
    stride = size + 8
    score = 0
    for x in (rows, cols):
        eq = ~(x ^ (x >> 1))  # bit p: modules p and p + 1 alike
        windows = eq & (eq >> 1) & (eq >> 2) & (eq >> 3) & _valid(size, 5, size)
        runs = windows & ~(windows << 1)  # the first window of each run of 5 or more
        score += windows.bit_count() + 2 * runs.bit_count()  # N1: 3 + (length - 5) per run
        for pattern in ("10111010000", "00001011101"):  # N3: a finder-like 1:1:3:1:1 pattern
            found = -1
            for k, bit in enumerate(pattern):
                found &= (x >> k) if bit == "1" else ~(x >> k)
            score += 40 * found.bit_count()
    below = ~(rows ^ (rows >> stride))  # N2: 2x2 blocks of one colour
    score += (
        3 * (below & (below >> 1) & ~(rows ^ (rows >> 1)) & _valid(size, 2, size - 1)).bit_count()
    )
    total = size * size
    return score + 10 * (abs(rows.bit_count() * 20 - total * 10) // total)  # N4: per 5 % off 50 %


def mask_penalty(rows: Sequence[int], size: int) -> int:
    """ISO/IEC 18004 penalty of a symbol: N1 runs, N2 blocks, N3 finder-like, N4 balance.

    ``rows`` are the rows as integers, the leftmost module in the highest bit. The symbol
    is scored as a reader sees it, format information included (as ZXing's encoder does),
    within a quiet zone of light modules.
    """
    return _penalty(_pack(rows, size), _pack(_transpose(rows, size), size), size)


@functools.lru_cache(maxsize=32)
def _mask_deltas(version: int, error: str) -> tuple[tuple[tuple[int, ...], int, int], ...]:
    """What turns a symbol masked with pattern 0 into the same symbol masked with pattern k.

    Masking XORs a fixed pattern onto the data modules and the format information depends
    only on the error level and the mask, so for any two symbols of one version and error
    level, ``symbol_k = symbol_0 XOR (reference_k XOR reference_0)``, module by module.
    Returns, for each k, that difference by rows, and packed by rows and by columns.
    """
    refs = [
        _rows(segno.make("0", version=version, error=error, mask=k, micro=False, boost_error=False))
        for k in range(8)
    ]
    size = len(refs[0])
    deltas = []
    for ref in refs:
        rows = [a ^ b for a, b in zip(ref, refs[0], strict=True)]
        deltas.append((tuple(rows), _pack(rows, size), _pack(_transpose(rows, size), size)))
    return tuple(deltas)


def qr_matrix(data: str) -> tuple[str, ...]:
    """The QR symbol's rows from the top, ``"1"`` a dark module and ``"0"`` a light one.

    No quiet zone. segno encodes the data; the mask is chosen here, by the lowest
    ISO 18004 penalty as the standard requires, because segno's own search costs as much
    as the whole rest of a receipt.
    """
    code = segno.make(data, error=QR_ERROR, micro=False, mask=0)
    size = len(code.matrix)
    rows = _rows(code)
    packed_rows, packed_cols = _pack(rows, size), _pack(_transpose(rows, size), size)
    deltas = _mask_deltas(int(code.version), code.error)
    scores = [_penalty(packed_rows ^ dr, packed_cols ^ dc, size) for _, dr, dc in deltas]
    best = deltas[scores.index(min(scores))][0]  # the first of equals, as segno would
    return tuple(format(r ^ d, f"0{size}b") for r, d in zip(rows, best, strict=True))


_DARK: Final = re.compile("1+")


def dark_rects(matrix: Sequence[str]) -> list[tuple[int, int, int, int]]:
    """``(row, column, width, height)`` in modules of rectangles that tile the dark modules.

    One per horizontal run of dark modules, except that a run with the same columns as a
    run in the row above extends that rectangle downwards. No two rectangles overlap.
    """
    rects: list[list[int]] = []
    above: dict[tuple[int, int], list[int]] = {}
    for r, row in enumerate(matrix):
        here: dict[tuple[int, int], list[int]] = {}
        for run in _DARK.finditer(row):
            key = run.span()
            rect = above.get(key)
            if rect is None:
                rect = [r, key[0], key[1] - key[0], 1]
                rects.append(rect)
            else:
                rect[3] += 1
            here[key] = rect
        above = here
    return [(r, c, w, h) for r, c, w, h in rects]


def draw_qr(canvas: Canvas, data: str, x: float, y: float, size: float) -> None:
    """The symbol as ONE path of rectangles, filled once; (x, y) is its lower-left corner.

    The path is drawn in module units (y down from the symbol's top-left corner), so
    every rectangle is four small integers.
    """
    matrix = qr_matrix(data)
    module = size / len(matrix)
    canvas.saveState()
    canvas.transform(module, 0, 0, -module, x, y + size)
    path = canvas.beginPath()
    for r, c, w, h in dark_rects(matrix):
        path.rect(c, r, w, h)
    canvas.setFillColorRGB(0, 0, 0)
    canvas.drawPath(path, stroke=0, fill=1, fillMode=FILL_NON_ZERO)
    canvas.restoreState()


# ---------------------------------------------------------------------------------------
# Layout

PAGE_W, PAGE_H = A4
MARGIN: Final = 18 * mm
LEFT: Final = MARGIN
RIGHT: Final = PAGE_W - MARGIN
WIDTH: Final = RIGHT - LEFT
QR_SIZE: Final = 32 * mm
FOOTER_Y: Final = 12 * mm
QR_Y: Final = FOOTER_Y + 40  # the QR code's lower edge: room for the URL and a quiet zone
QR_QUIET: Final = 4 * mm  # light margin around the symbol (ISO 18004 asks 4 modules)
VERIFY_TOP: Final = QR_Y + QR_SIZE + QR_QUIET + 8  # the last page's content stops above this

INK: Final = (0.12, 0.12, 0.12)
GREY: Final = (0.36, 0.36, 0.38)
BLUE: Final = (0.0, 0.0, 0.57)  # the French state's "bleu France", #000091
RULE: Final = (0.80, 0.80, 0.84)
HEADER_FILL: Final = (0.93, 0.93, 0.97)

# Lines table: description | quantity | unit amount | amount (right edges of the numbers).
COL_QTY_RIGHT: Final = LEFT + WIDTH * 0.64
COL_UNIT_RIGHT: Final = LEFT + WIDTH * 0.82
COL_AMOUNT_RIGHT: Final = RIGHT - 6
DESC_X: Final = LEFT + 6
DESC_WIDTH: Final = COL_QTY_RIGHT - 40 - DESC_X
BODY_SIZE: Final = 9.5
ROW_LEADING: Final = 12.5
ROW_PAD: Final = 5.0


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap in ``width`` points; a word longer than a line is cut."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if pdfmetrics.stringWidth(candidate, font, size) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            while pdfmetrics.stringWidth(word, font, size) > width:
                fits, over = 1, len(word)  # the longest prefix that fits, at least 1 char
                while over - fits > 1:
                    mid = (fits + over) // 2
                    if pdfmetrics.stringWidth(word[:mid], font, size) <= width:
                        fits = mid
                    else:
                        over = mid
                lines.append(word[:fits])
                word = word[fits:]
            line = word
        lines.append(line)
    return lines


Color = tuple[float, float, float]


class _Page:
    """The few drawing calls the receipt makes; without a canvas they only measure.

    It remembers the font and fill colour in force, so that the content stream does not
    repeat them for every string.
    """

    def __init__(self, canvas: Canvas | None) -> None:
        self.c = canvas
        self._font: tuple[str, float] | None = None
        self._fill: Color | None = None

    def new_page(self) -> None:
        if self.c is not None:
            self.c.showPage()  # back to the initial font and a black fill
        self._font, self._fill = None, None

    def _set_fill(self, c: Canvas, color: Color) -> None:
        if color != self._fill:
            c.setFillColorRGB(*color)
            self._fill = color

    def fill_rect(self, x: float, y: float, w: float, h: float, color: Color) -> None:
        if self.c is not None:
            self._set_fill(self.c, color)
            self.c.rect(x, y, w, h, stroke=0, fill=1)

    def text(
        self,
        x: float,
        y: float,
        s: str,
        *,
        size: float = BODY_SIZE,
        bold: bool = False,
        color: Color = INK,
        align: str = "left",
    ) -> None:
        c = self.c
        if c is None:
            return
        font = (FONT_BOLD if bold else FONT, size)
        if font != self._font:
            c.setFont(*font)
            self._font = font
        self._set_fill(c, color)
        if align == "right":
            c.drawRightString(x, y, s)
        else:
            c.drawString(x, y, s)

    def rule(self, y: float, *, color: Color = RULE, width: float = 0.6) -> None:
        if self.c is None:
            return
        self.c.setStrokeColorRGB(*color)
        self.c.setLineWidth(width)
        self.c.line(LEFT, y, RIGHT, y)


def _header(p: _Page, doc: ReceiptDocument, words: dict[str, str]) -> float:
    """Issuer on the left, title and number on the right; returns the y below them."""
    p.fill_rect(0, PAGE_H - 5, PAGE_W, 5, BLUE)
    top = PAGE_H - MARGIN
    # Issuer block.
    y = top - 4
    for line in wrap(doc.issuer_name, FONT_BOLD, 12, WIDTH * 0.52):
        p.text(LEFT, y, line, size=12, bold=True)
        y -= 15
    y -= 1
    for address_line in doc.issuer_address:
        for line in wrap(address_line, FONT, 9, WIDTH * 0.52):
            p.text(LEFT, y, line, size=9, color=GREY)
            y -= 11.5
    for line in wrap(issuer_identifier(doc.issuer_identifier), FONT, 9, WIDTH * 0.52):
        p.text(LEFT, y, line, size=9, color=GREY)
        y -= 11.5
    # Title block.
    title = words["title_receipt" if doc.kind == "receipt" else "title_credit_note"]
    ty = top - 12
    p.text(RIGHT, ty, title, size=19, bold=True, color=BLUE, align="right")
    ty -= 20
    p.text(RIGHT, ty, words["number"].format(number=doc.number), size=12, bold=True, align="right")
    ty -= 15
    if doc.credit_note_for is not None:
        p.text(
            RIGHT,
            ty,
            words["credit_note_for"].format(number=doc.credit_note_for),
            size=10,
            color=GREY,
            align="right",
        )
        ty -= 13
    return min(y, ty) - 8


def _details(p: _Page, doc: ReceiptDocument, words: dict[str, str], y: float) -> float:
    """Two columns of label over value; returns the y below the block."""
    refund = doc.kind == "credit_note"
    cells = [
        (words["refunded_at" if refund else "paid_at"], payment_time(doc)),
        (words["refunded_to" if refund else "payer"], doc.payer_name),
        (words["invoice_number"], doc.invoice_number),
        (words["invoice_reference"], doc.invoice_reference),
        (words["payment_method"], payment_method(doc)),
        (words["psp_reference"], doc.psp_reference),
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


def _table_header(p: _Page, words: dict[str, str], y: float) -> float:
    p.fill_rect(LEFT, y - 18, WIDTH, 18, HEADER_FILL)
    base = y - 12.5
    p.text(DESC_X, base, words["description"], size=8.5, bold=True)
    p.text(COL_QTY_RIGHT, base, words["quantity"], size=8.5, bold=True, align="right")
    p.text(COL_UNIT_RIGHT, base, words["unit_amount"], size=8.5, bold=True, align="right")
    p.text(COL_AMOUNT_RIGHT, base, words["amount"], size=8.5, bold=True, align="right")
    return y - 18


def _row_height(lines: list[str]) -> float:
    return len(lines) * ROW_LEADING + 2 * ROW_PAD - (ROW_LEADING - BODY_SIZE)


def _line_row(
    p: _Page, doc: ReceiptDocument, line: ReceiptLine, desc: list[str], y: float
) -> float:
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


def _total(p: _Page, doc: ReceiptDocument, words: dict[str, str], y: float) -> float:
    label = words["total_receipt" if doc.kind == "receipt" else "total_credit_note"]
    amount = format_money(doc.total, doc.currency, doc.language)
    box_left = LEFT + WIDTH * 0.5
    p.fill_rect(box_left, y - 30, RIGHT - box_left, 26, HEADER_FILL)
    p.fill_rect(box_left, y - 30, 2.5, 26, BLUE)
    p.text(box_left + 12, y - 21, label, size=11, bold=True)
    p.text(COL_AMOUNT_RIGHT, y - 21.5, amount, size=13, bold=True, align="right")
    p.text(
        COL_AMOUNT_RIGHT,
        y - 42,
        words["currency"].format(currency=doc.currency),
        size=8,
        color=GREY,
        align="right",
    )
    return y - 48


def _verify_block(p: _Page, doc: ReceiptDocument, words: dict[str, str]) -> None:
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
    heading = words["verify_receipt" if doc.kind == "receipt" else "verify_credit_note"]
    p.text(text_left, ty, heading, size=10, bold=True)
    ty -= 14
    for line in wrap(words["verify_help"], FONT, 8.5, text_right - text_left):
        p.text(text_left, ty, line, size=8.5, color=GREY)
        ty -= 11


def _footer(p: _Page, doc: ReceiptDocument, words: dict[str, str], page: int, pages: int) -> None:
    p.rule(FOOTER_Y + 10, width=0.4)
    left = f"{doc.issuer_name} · {words['number'].format(number=doc.number)}"
    if pdfmetrics.stringWidth(left, FONT, 7.5) > WIDTH * 0.75:
        left = wrap(left, FONT, 7.5, WIDTH * 0.75)[0] + "…"
    p.text(LEFT, FOOTER_Y, left, size=7.5, color=GREY)
    p.text(
        RIGHT,
        FOOTER_Y,
        words["page"].format(page=page, pages=pages),
        size=7.5,
        color=GREY,
        align="right",
    )


def _statement(p: _Page, doc: ReceiptDocument, words: dict[str, str], y: float) -> float:
    key = "statement_receipt" if doc.kind == "receipt" else "statement_credit_note"
    for line in wrap(words[key].format(invoice=doc.invoice_number), FONT, 9, WIDTH):
        p.text(LEFT, y, line, size=9, color=GREY)
        y -= 12
    return y


TABLE_HEADER_H: Final = 18.0
TAIL_H: Final = 8 + 48 + 30  # below the last row: the total box, the currency, the statement
CONTINUED_TOP: Final = PAGE_H - MARGIN - 30  # where the table starts on later pages
BOTTOM_LIMIT: Final = FOOTER_Y + 24  # the lowest a row may end on a page without the QR


def paginate(heights: Sequence[float], first_top: float) -> list[list[int]]:
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
    while fit < len(last) and last_bottoms[fit] - TAIL_H >= VERIFY_TOP:
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
    words = LABELS[doc.language]
    title = words["title_receipt" if doc.kind == "receipt" else "title_credit_note"]
    buf = io.BytesIO()
    c = Canvas(
        buf,
        pagesize=A4,
        invariant=1,
        pageCompression=1,
        initialFontName=FONT,
        initialFontSize=BODY_SIZE,
        lang=doc.language,
    )
    c.setTitle(f"{title} {doc.number}")
    c.setAuthor(doc.issuer_name)
    c.setSubject(f"{title} {doc.number} – {doc.invoice_number}")
    c.setCreator("regie")
    p = _Page(c)

    # Lay the rows out first so that each page knows how many pages there are.
    rows = [(line, wrap(line.description, FONT, BODY_SIZE, DESC_WIDTH)) for line in doc.lines]
    plan = paginate([_row_height(desc) for _, desc in rows], _measure_top(doc, words))
    pages = [[rows[i] for i in page] for page in plan]

    for number, page_rows in enumerate(pages, start=1):
        if number == 1:
            y = _header(p, doc, words)
            p.rule(y + 2, color=BLUE, width=1.2)
            y = _details(p, doc, words, y - 8) - 4
        else:
            p.text(
                LEFT,
                PAGE_H - MARGIN - 4,
                f"{title} {words['number'].format(number=doc.number)} {words['continued']}",
                size=10,
                bold=True,
            )
            y = CONTINUED_TOP
        if page_rows:
            y = _table_header(p, words, y)
            for line, desc in page_rows:
                y = _line_row(p, doc, line, desc, y)
        if number == len(pages):
            y = _total(p, doc, words, y - 8)
            _statement(p, doc, words, y - 10)
            _verify_block(p, doc, words)
        _footer(p, doc, words, number, len(pages))
        p.new_page()
    c.save()
    return buf.getvalue()


def _measure_top(doc: ReceiptDocument, words: dict[str, str]) -> float:
    """Where the lines table starts on the first page: the header and details, measured."""
    dry = _Page(None)
    return _details(dry, doc, words, _header(dry, doc, words) - 8) - 4
