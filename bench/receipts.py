"""Receipt rendering: regie's full receipt vs a bare reportlab page with the same text.

The baseline draws, on an A4 canvas with the same embedded TrueType fonts, the very
strings that the receipt shows (read back from a rendered receipt with pypdf, each with
its font and size), one under another, with no QR code, no table and no layout work.
Both are rendered N times in alternating rounds, so the machine's noise hits both alike,
and timed in this process's CPU time, so that other processes on a shared machine do not
(rendering is single-threaded CPU work: no I/O to wait for). Prints receipts/s, bare
pages/s (medians of the rounds) and what a receipt costs in bare pages; the target is at
most 2x.

    python -m bench.receipts [--n 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import time
from typing import Any

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from receipts.amount_words import amount_in_words
from receipts.document import ReceiptDocument, ReceiptLine
from receipts.render import render_pdf
from receipts.typeset import FONT, FONT_BOLD, register_fonts

Chunk = tuple[str, str, float]  # text, font, size


def sample(i: int) -> ReceiptDocument:
    lines = (
        ReceiptLine("Copie intégrale d'acte de naissance – délivrance accélérée", 2, 1250, 2500),
        ReceiptLine("Frais d'envoi en recommandé", 1, 780 + i % 50, 780 + i % 50),
    )
    number = f"2026-{i + 1:06d}"
    return ReceiptDocument(
        kind="receipt",
        number=number,
        language="fr" if i % 2 == 0 else "en",
        issuer_name="Mairie d'Évry – État civil",
        issuer_address=("Place des Droits de l'Homme et du Citoyen", "91000 Évry-Courcouronnes"),
        issuer_identifier="21910228800011",
        issuer_timezone="Europe/Paris",
        paid_at=dt.datetime(2026, 3, 14, 9, 32, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
        payer_name="Hélène Dupré",
        lines=lines,
        total=sum(line.amount for line in lines),
        currency="EUR",
        card_brand="visa",
        card_last4=f"{4242 + i % 5000:04d}",
        psp_reference=f"pi_3PqRsT2eZvKYlo2C{i:08d}",
        invoice_number=f"F-2026-{i:05d}",
        invoice_reference=f"EC-2026-{i:04d}",
        verify_url=f"https://paiement.evry-courcouronnes.fr/receipts/verify/219102288/{number}?c=7KQ2M9XH{i % 97:02d}",
        # what a receipt a public body signs carries (issue 11): the total in words, the
        # VAT mention, the régie, how to reach the service, the payer's address
        issued_at=dt.datetime(2026, 3, 14, 9, 33, tzinfo=dt.UTC) + dt.timedelta(minutes=i),
        amount_in_words=amount_in_words(
            sum(x.amount for x in lines), "EUR", "fr" if i % 2 == 0 else "en"
        ),
        vat_article="256 B",
        regie_name="Régie de l'état civil",
        issuer_email="etat-civil@evry-courcouronnes.fr",
        issuer_phone="01 60 91 60 00",
        issuer_hours="Lundi–vendredi 8 h 30 – 17 h 30",
        payer_address=("12 rue des Lilas", "91000 Évry-Courcouronnes"),
    )


def chunks_of(pdf: bytes) -> list[Chunk]:
    """Every string drawn on the receipt's pages, with its font (regular or bold) and size."""
    found: list[Chunk] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            bold = font is not None and "Bold" in str(font.get("/BaseFont", ""))
            found.append((text.strip(), FONT_BOLD if bold else FONT, float(size or 9)))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return found


def bare_page(title: str, author: str, chunks: list[Chunk]) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1, initialFontName=FONT)
    c.setTitle(title)
    c.setAuthor(author)
    y = A4[1] - 50
    for text, font, size in chunks:
        c.setFont(font, size)
        c.drawString(50, y, text)
        y -= size + 4
    c.showPage()
    c.save()
    return buf.getvalue()


def run(n: int, rounds: int) -> dict[str, float]:
    register_fonts()
    docs = [sample(i) for i in range(n)]
    bare = [(d.number, d.issuer_name, chunks_of(render_pdf(d))) for d in docs]
    for d, b in zip(docs[:20], bare[:20], strict=False):  # warm-up
        render_pdf(d)
        bare_page(*b)
    regie_rates, bare_rates = [], []
    for _ in range(rounds):
        start = time.process_time()
        for d in docs:
            render_pdf(d)
        regie_rates.append(n / (time.process_time() - start))
        start = time.process_time()
        for b in bare:
            bare_page(*b)
        bare_rates.append(n / (time.process_time() - start))
    regie_med, bare_med = statistics.median(regie_rates), statistics.median(bare_rates)
    return {"regie_per_s": regie_med, "baseline_per_s": bare_med, "ratio": bare_med / regie_med}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.n, args.rounds)
    print(
        f"receipt rendering: regie {result['regie_per_s']:.0f} receipts/s, "
        f"bare reportlab page {result['baseline_per_s']:.0f} pages/s, "
        f"a receipt costs {result['ratio']:.2f}x a bare page "
        f"(median of {args.rounds} rounds of {args.n}; target at most 2x)"
    )
    return result


if __name__ == "__main__":
    main()
