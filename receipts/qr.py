"""The verification QR code: encoded by segno, masked here, drawn as one filled path.

Pure: no I/O. The mask is chosen by the standard's penalty rules (ISO/IEC 18004), several
times faster than segno's own search, and the symbol is drawn as ONE path of rectangles
covering its dark modules, filled once; reportlab's QR widget is slow.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Final

import segno
from reportlab.pdfgen.canvas import FILL_NON_ZERO, Canvas

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
