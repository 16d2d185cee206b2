"""Typesetting on an A4 page with the bundled fonts: the margins, the colours, word wrap
and the few drawing calls that a layout needs.

Pure but for reading the DejaVu fonts shipped in ``receipts/fonts`` (registered once per
process). Every font in the PDF is an embedded TrueType subset: a canvas that starts on
``FONT`` never names Helvetica. Knows nothing of receipts: ``receipts.render`` lays one out.
"""

from __future__ import annotations

import io
import threading
from importlib.resources import files
from typing import Final

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

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
# The page

PAGE_W, PAGE_H = A4
MARGIN: Final = 18 * mm
LEFT: Final = MARGIN
RIGHT: Final = PAGE_W - MARGIN
WIDTH: Final = RIGHT - LEFT
BODY_SIZE: Final = 9.5

Color = tuple[float, float, float]

INK: Final = (0.12, 0.12, 0.12)
GREY: Final = (0.36, 0.36, 0.38)
BLUE: Final = (0.0, 0.0, 0.57)  # the French state's "bleu France", #000091
RULE: Final = (0.80, 0.80, 0.84)
HEADER_FILL: Final = (0.93, 0.93, 0.97)


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


class Page:
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
