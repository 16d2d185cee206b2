"""Receipts as a person and a machine read them: the PDF's text, fonts, bytes and QR code.

pypdf reads the PDFs back. One quirk to know: reportlab draws a no-break space (U+00A0)
with the space character's code, so it comes back as a plain space; the narrow no-break
space (U+202F) that French puts between thousands survives.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.pdfbase.pdfmetrics import stringWidth

from receipts import qr, render, typeset
from receipts.document import ReceiptDocument, ReceiptError, ReceiptLine, verify_url
from receipts.qr import dark_rects, mask_penalty, qr_matrix
from receipts.render import paginate, render_pdf
from regie.kit.money import format_money

NNBSP = "\u202f"
URL = "https://paiement.evry-courcouronnes.fr/receipts/verify/219102288/2026-000042?c=7KQ2M9XH4P"
ROOT = Path(__file__).resolve().parents[2]


def make_doc(**changes: Any) -> ReceiptDocument:
    lines = (
        ReceiptLine("Copie intégrale d'acte de naissance – délivrance accélérée", 2, 1250, 2500),
        ReceiptLine("Frais d'envoi en recommandé avec accusé de réception", 1, 123450, 123450),
    )
    doc = ReceiptDocument(
        kind="receipt",
        number="2026-000042",
        language="fr",
        issuer_name="Mairie d'Évry – État civil",
        issuer_address=("Place des Droits de l'Homme et du Citoyen", "91000 Évry-Courcouronnes"),
        issuer_identifier="21910228800011",
        issuer_timezone="Europe/Paris",
        paid_at=dt.datetime(2026, 3, 14, 9, 32, 5, tzinfo=dt.UTC),
        payer_name="Hélène Dupré",
        lines=lines,
        total=125950,
        currency="EUR",
        card_brand="visa",
        card_last4="4242",
        psp_reference="pi_3PqRsT2eZvKYlo2C1aBcDeFg",
        invoice_number="F-2026-00137",
        invoice_reference="EC-2026-0451",
        verify_url=URL,
    )
    return dataclasses.replace(doc, **changes)


def single_line(description: str, amount: int, quantity: int = 1) -> tuple[ReceiptLine, ...]:
    return (ReceiptLine(description, quantity, amount, quantity * amount),)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def as_extracted(s: str) -> str:
    return s.replace("\u00a0", " ")


def money(amount: int, currency: str, lang: str) -> str:
    return as_extracted(format_money(amount, currency, lang))


# --- what the receipt says -----------------------------------------------------------


def test_a_french_receipt_shows_every_field_with_its_accents() -> None:
    text = text_of(render_pdf(make_doc()))
    for expected in [
        "Mairie d'Évry – État civil",
        "Place des Droits de l'Homme et du Citoyen",
        "91000 Évry-Courcouronnes",
        "SIRET 219 102 288 00011",
        "Reçu de paiement",
        "N° 2026-000042",
        "Date du paiement",
        "14 mars 2026 à 10:32 (Europe/Paris)",  # 09:32 UTC is 10:32 in Paris in winter
        "Payé par",
        "Hélène Dupré",
        "Copie intégrale d'acte de naissance – délivrance",
        "accélérée",
        "Frais d'envoi en recommandé avec accusé de réception",
        "Désignation",
        "Prix unitaire",
        "Montant",
        "12,50 €",
        "25,00 €",
        f"1{NNBSP}234,50 €",
        "Total payé",
        f"1{NNBSP}259,50 €",
        "Devise : EUR",
        "Moyen de paiement",
        "VISA •••• 4242",
        "Référence de la transaction",
        "pi_3PqRsT2eZvKYlo2C1aBcDeFg",
        "Numéro de facture",
        "F-2026-00137",
        "EC-2026-0451",
        "Ce reçu atteste le paiement de la facture n° F-2026-00137.",
        "Vérifier ce reçu",
        URL,
        "Page 1/1",
    ]:
        assert expected in text, expected
    assert money(125950, "EUR", "fr") == f"1{NNBSP}259,50 €"
    assert "Payment" not in text


def test_an_english_receipt_shows_every_field() -> None:
    text = text_of(render_pdf(make_doc(language="en")))
    for expected in [
        "Mairie d'Évry – État civil",
        "Payment receipt",
        "No. 2026-000042",
        "Payment date",
        "14 March 2026 at 10:32 (Europe/Paris)",
        "Paid by",
        "Hélène Dupré",
        "Description",
        "Qty",
        "Unit price",
        "€12.50",
        "€25.00",
        "€1,234.50",
        "Total paid",
        "€1,259.50",
        "Currency: EUR",
        "Payment method",
        "VISA •••• 4242",
        "Transaction reference",
        "pi_3PqRsT2eZvKYlo2C1aBcDeFg",
        "Invoice number",
        "F-2026-00137",
        "Reference",
        "EC-2026-0451",
        "This receipt confirms the payment of invoice no. F-2026-00137.",
        "Check this receipt",
        URL,
        "Page 1 of 1",
    ]:
        assert expected in text, expected
    assert "Reçu" not in text and "Payé" not in text


def test_the_payment_time_is_on_the_issuers_clock_summer_time_included() -> None:
    summer = make_doc(paid_at=dt.datetime(2026, 7, 1, 21, 59, tzinfo=dt.UTC))
    assert "1er juillet 2026 à 23:59 (Europe/Paris)" in text_of(render_pdf(summer))
    tahiti = make_doc(
        issuer_timezone="Pacific/Tahiti", paid_at=dt.datetime(2026, 7, 1, 5, 0, tzinfo=dt.UTC)
    )
    assert "30 juin 2026 à 19:00 (Pacific/Tahiti)" in text_of(render_pdf(tahiti))


@pytest.mark.parametrize(
    ("lang", "kind", "said"),
    [
        ("fr", "receipt", "Date du paiement\n1er octobre 2026 à 10:32 (Europe/Paris)"),
        ("fr", "credit_note", "Date du remboursement\n1er octobre 2026 à 10:32 (Europe/Paris)"),
        ("en", "receipt", "Payment date\n1 October 2026 at 10:32 (Europe/Paris)"),
        ("en", "credit_note", "Refund date\n1 October 2026 at 10:32 (Europe/Paris)"),
    ],
)
def test_the_first_of_the_month_is_1er_in_french_as_the_pages_write_it(
    lang: str, kind: str, said: str
) -> None:
    """French typography writes the first of the month « 1er octobre 2026 », as the receipt
    page, the finance workspace and the run's report do (``regie.kit.i18n.format_day``);
    English « 1 October 2026 ». Other days are unchanged (« 14 mars 2026 »)."""
    first = dt.datetime(2026, 10, 1, 8, 32, tzinfo=dt.UTC)  # 10:32 in Paris (summer time)
    changes: dict[str, Any] = {"language": lang, "paid_at": first}
    if kind == "credit_note":
        changes |= {
            "kind": "credit_note",
            "number": "2026-000043",
            "credit_note_for": "2026-000042",
        }
    text = text_of(render_pdf(make_doc(**changes)))
    assert said in text, text
    assert " 1 octobre" not in text


@pytest.mark.parametrize(
    ("currency", "lang", "unit", "total"),
    [
        ("XPF", "fr", f"12{NNBSP}000 FCFP", f"24{NNBSP}000 FCFP"),
        ("JPY", "en", "JP¥ 12,000", "JP¥ 24,000"),
    ],
)
def test_currencies_without_minor_units_show_no_decimals(
    currency: str, lang: str, unit: str, total: str
) -> None:
    doc = make_doc(
        currency=currency,
        language=lang,
        lines=single_line("Redevance d'occupation du domaine public", 12000, quantity=2),
        total=24000,
    )
    text = text_of(render_pdf(doc))
    assert money(12000, currency, lang) == unit
    assert unit in text and total in text
    assert "000,00" not in text and "000.00" not in text


def test_the_card_shows_its_brand_and_last_four_digits_only() -> None:
    text = text_of(render_pdf(make_doc(card_brand="mastercard", card_last4="5454")))
    assert "Mastercard •••• 5454" in text
    assert len(re.findall("5454", text)) == 1
    with pytest.raises(ReceiptError):
        make_doc(card_last4="5555555555554444")
    with pytest.raises(ReceiptError):
        make_doc(card_last4="44a4")
    no_card = text_of(render_pdf(make_doc(card_brand=None, card_last4=None)))
    assert "Carte bancaire" in no_card and "••••" not in no_card


def test_a_credit_note_says_which_receipt_it_refunds() -> None:
    doc = make_doc(
        kind="credit_note",
        number="2026-000007",
        credit_note_for="2026-000042",
        lines=single_line("Remboursement partiel – frais d'envoi", 780),
        total=780,
    )
    fr = text_of(render_pdf(doc))
    for expected in [
        "Avoir",
        "N° 2026-000007",
        "Relatif au reçu n° 2026-000042",
        "Date du remboursement",
        "Remboursé à",
        "Hélène Dupré",
        "Total remboursé",
        "7,80 €",
        "Vérifier cet avoir",
    ]:
        assert expected in fr, expected
    assert "Reçu de paiement" not in fr
    en = text_of(render_pdf(dataclasses.replace(doc, language="en")))
    for expected in ["Credit note", "For receipt no. 2026-000042", "Total refunded", "€7.80"]:
        assert expected in en, expected


def test_many_lines_flow_onto_more_pages_with_the_total_and_qr_on_the_last() -> None:
    lines = tuple(
        ReceiptLine(f"Prestation n° {i} – service de l'état civil", 1, 1000, 1000)
        for i in range(45)
    )
    pdf = render_pdf(make_doc(lines=lines, total=45000))
    pages = [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) >= 2
    assert all(f"Page {n}/{len(pages)}" in text for n, text in enumerate(pages, start=1))
    assert all("(suite)" in text for text in pages[1:])
    for i in range(45):
        assert sum(f"Prestation n° {i} –" in text for text in pages) == 1
    assert all("Total payé" not in text and URL not in text for text in pages[:-1])
    assert "Total payé" in pages[-1] and "450,00 €" in pages[-1] and URL in pages[-1]
    assert len(qr_paths(pdf)) == 1


def test_long_values_wrap_instead_of_running_off_the_page() -> None:
    doc = make_doc(
        payer_name="Marie-Hélène Éléonore de la Tour d'Auvergne-Lauraguais " * 3,
        lines=single_line("Désignation" * 60, 100),
        total=100,
    )
    text = text_of(render_pdf(doc))
    assert "Marie-Hélène Éléonore" in text
    assert "Désignation" * 60 in text.replace("\n", "")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="aéÉ –'lmWx0", max_size=300), st.sampled_from([40.0, 120.0, 300.0]))
def test_wrapped_lines_fit_and_keep_every_character(text: str, width: float) -> None:
    typeset.register_fonts()
    lines = typeset.wrap(text, typeset.FONT, 9.5, width)
    assert all(typeset.pdfmetrics.stringWidth(line, typeset.FONT, 9.5) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


# --- the PDF as a file ---------------------------------------------------------------


def test_the_same_receipt_gives_the_same_bytes_and_another_one_other_bytes() -> None:
    doc = make_doc()
    first = render_pdf(doc)
    render_pdf(make_doc(language="en", number="2026-000099"))
    assert render_pdf(doc) == first
    assert render_pdf(make_doc(number="2026-000043")) != first
    assert render_pdf(make_doc(payer_name="Hélène Dupre")) != first
    assert render_pdf(make_doc(language="en")) != first


def test_the_bytes_do_not_depend_on_the_process() -> None:
    script = (
        "import hashlib, sys; sys.path.insert(0, sys.argv[1]);"
        "from tests.receipts.test_render import make_doc;"
        "from receipts.render import render_pdf;"
        "print(hashlib.sha256(render_pdf(make_doc())).hexdigest())"
    )
    expected = hashlib.sha256(render_pdf(make_doc())).hexdigest()
    for seed in ("1", "4242"):
        out = subprocess.run(
            [sys.executable, "-c", script, str(ROOT)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        assert out.stdout.strip() == expected


def test_threads_rendering_at_once_give_the_same_bytes() -> None:
    docs = [make_doc(number=f"2026-{i:06d}", language="fr" if i % 2 else "en") for i in range(8)]
    serial = [render_pdf(d) for d in docs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(render_pdf, docs * 3)) == serial * 3


def test_every_font_is_embedded_truetype_and_none_is_helvetica() -> None:
    for doc in [make_doc(), make_doc(language="en", kind="credit_note", credit_note_for="2026-1")]:
        pdf = render_pdf(doc)
        assert b"Helvetica" not in pdf
        reader = PdfReader(io.BytesIO(pdf))
        seen = set()
        for page in reader.pages:
            content = page.get_contents()
            assert content is not None and b"Helvetica" not in content.get_data()
            fonts: Any = page["/Resources"]["/Font"]  # type: ignore[index]
            for ref in fonts.values():
                font = ref.get_object()
                assert "/FontFile2" in font["/FontDescriptor"], font
                seen.add(str(font["/BaseFont"]).split("+")[-1])
        assert seen == {"DejaVuSans", "DejaVuSans-Bold"}


def test_metadata_is_fixed_and_names_the_receipt_and_its_issuer() -> None:
    meta = PdfReader(io.BytesIO(render_pdf(make_doc()))).metadata
    assert meta is not None
    assert meta.title == "Reçu de paiement 2026-000042"
    assert meta.author == "Mairie d'Évry – État civil"
    assert str(dt.date.today().year) not in str(meta.get("/CreationDate"))


def test_the_fonts_ship_with_the_package_with_their_licence() -> None:
    fonts = Path(render.__file__).parent / "fonts"
    assert {p.name for p in fonts.iterdir()} >= {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"}
    assert "Bitstream" in (fonts / "LICENSE").read_text()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"fonts/*.ttf"' in pyproject and '"fonts/LICENSE"' in pyproject


# --- the QR code ---------------------------------------------------------------------


def qr_paths(pdf: bytes) -> list[tuple[list[float], list[tuple[int, int, int, int]], bytes]]:
    """Every path of ten rectangles or more: (its transform, the rectangles, how it is painted)."""
    reader = PdfReader(io.BytesIO(pdf))
    found = []
    for page in reader.pages:
        ops = ContentStream(page.get_contents(), reader).operations
        cm: list[float] = []
        rects: list[tuple[int, int, int, int]] = []
        for args, op in ops:
            if op == b"cm":
                cm = [float(a) for a in args]
            elif op == b"re":
                c, r, w, h = (float(a) for a in args)
                rects.append((int(c), int(r), int(w), int(h)))
            elif op in (b"f", b"f*", b"F", b"S", b"B", b"B*", b"n"):
                if len(rects) >= 10:
                    found.append((cm, rects, op))
                rects = []
    return found


def test_the_qr_code_is_one_path_filled_once_encoding_the_verify_url() -> None:
    pdf = render_pdf(make_doc())
    [(cm, rects, paint)] = qr_paths(pdf)
    assert paint == b"f"  # filled once, nonzero winding, never stroked
    # Re-derive the symbol from the drawing: the rectangles are in module units.
    size = max(c + w for c, _, w, _ in rects)
    drawn = [["0"] * size for _ in range(size)]
    for c, r, w, h in rects:
        for i in range(r, r + h):
            for j in range(c, c + w):
                assert drawn[i][j] == "0", "rectangles overlap"
                drawn[i][j] = "1"
    symbol = tuple("".join(row) for row in drawn)
    assert symbol == qr_matrix(URL)
    # It is segno's encoding of the URL, with one of the eight masks...
    masked = {
        k: tuple("".join(str(v) for v in row) for row in code.matrix)
        for k in range(8)
        for code in [segno.make(URL, error=qr.QR_ERROR, micro=False, mask=k)]
    }
    [mask] = [k for k, m in masked.items() if m == symbol]
    # ...the one the standard's penalty rules prefer.
    penalties = {k: reference_penalty(m) for k, m in masked.items()}
    assert penalties[mask] == min(penalties.values())
    assert mask == min(k for k, p in penalties.items() if p == penalties[mask])
    # It sits at the bottom right of the A4 page, 32 mm wide.
    module, _, _, flip, x, top = cm
    assert flip == -module and module * size == pytest.approx(render.QR_SIZE, abs=1e-3)
    assert x + module * size == pytest.approx(typeset.RIGHT, abs=1e-3)
    assert top - module * size == pytest.approx(render.QR_Y, abs=1e-3)


@pytest.mark.parametrize(
    "data", [URL, "x", "https://r.example/receipts/verify/2026-000001?c=" + "Z" * 150]
)
def test_each_mask_is_derived_exactly_as_segno_would_make_it(data: str) -> None:
    base = segno.make(data, error=qr.QR_ERROR, micro=False, mask=0)
    rows = qr._rows(base)
    for k, (delta, _, _) in enumerate(qr._mask_deltas(int(base.version), base.error)):
        made = segno.make(data, error=qr.QR_ERROR, micro=False, mask=k)
        assert (made.version, made.error) == (base.version, base.error)
        assert [r ^ d for r, d in zip(rows, delta, strict=True)] == qr._rows(made)


def reference_penalty(matrix: tuple[str, ...]) -> int:
    """ISO/IEC 18004 7.8.3.1, written plainly (N3 looks into the light quiet zone)."""
    size = len(matrix)
    lines = list(matrix) + ["".join(col) for col in zip(*matrix, strict=True)]
    score = 0
    for line in lines:
        score += sum(3 + len(run) - 5 for run in re.findall("0{5,}|1{5,}", line))
        padded = "0000" + line + "0000"
        for i in range(len(padded) - 10):
            if padded[i : i + 11] in ("10111010000", "00001011101"):
                score += 40
    for i in range(size - 1):
        for j in range(size - 1):
            if matrix[i][j] == matrix[i][j + 1] == matrix[i + 1][j] == matrix[i + 1][j + 1]:
                score += 3
    dark = sum(row.count("1") for row in matrix)
    return score + 10 * int(abs(dark * 100 / (size * size) - 50) // 5)


matrices = st.integers(min_value=5, max_value=29).flatmap(
    lambda n: st.lists(
        st.one_of(
            st.integers(0, 2**n - 1),
            st.sampled_from([0, 2**n - 1, int("10111010000"[:n].ljust(n, "0"), 2)]),
        ),
        min_size=n,
        max_size=n,
    ).map(lambda rows: tuple(format(r, f"0{n}b") for r in rows))
)


@settings(max_examples=150, deadline=None)
@given(matrices)
def test_the_fast_penalty_equals_the_plain_one(matrix: tuple[str, ...]) -> None:
    assert mask_penalty([int(row, 2) for row in matrix], len(matrix)) == reference_penalty(matrix)


@settings(max_examples=150, deadline=None)
@given(matrices)
def test_the_rectangles_cover_exactly_the_dark_modules(matrix: tuple[str, ...]) -> None:
    covered: list[tuple[int, int]] = []
    for r, c, w, h in dark_rects(matrix):
        assert w >= 1 and h >= 1
        covered += [(i, j) for i in range(r, r + h) for j in range(c, c + w)]
    dark = [(i, j) for i, row in enumerate(matrix) for j, v in enumerate(row) if v == "1"]
    assert sorted(covered) == dark  # every dark module once, no light one


def test_finder_patterns_become_few_rectangles() -> None:
    rects = dark_rects(qr_matrix(URL))
    assert (0, 0, 7, 1) in rects and (0, 0, 1, 7) not in rects
    assert (2, 2, 3, 3) in rects  # the 3x3 centre of the top-left finder: one rectangle


# --- the view model and the layout ---------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"paid_at": dt.datetime(2026, 3, 14, 9, 32)},  # naive
        {"total": 125951},
        {"total": 1259.5},
        {"kind": "credit_note"},  # without the receipt it refunds
        {"credit_note_for": "2026-000001"},  # a receipt that claims to refund
        {"currency": "eur"},
        {"issuer_timezone": "Europe/Evry"},
        {"language": "de"},
        {"lines": ()},
        {"card_last4": "424"},
        {"verify_url": "/receipts/verify/2026-000042?c=7KQ2M9XH4P"},
    ],
)
def test_an_inconsistent_document_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ReceiptError):
        make_doc(**changes)


@pytest.mark.parametrize(
    "args",
    [("x", 2, 1250, 2501), ("x", 1, 12.5, 12.5), ("x", True, 1, 1), ("", 1, 1, 1), ("x", 0, 1, 0)],
)
def test_an_inconsistent_line_is_refused(args: tuple[Any, ...]) -> None:
    with pytest.raises(ReceiptError):
        ReceiptLine(*args)


def test_pagination_keeps_the_total_with_at_least_one_row() -> None:
    assert paginate([20.0] * 3, 600) == [[0, 1, 2]]
    room = 600 - render.TABLE_HEADER_H - render.VERIFY_TOP - render.TAIL_H
    fits = int(room // 20)
    assert paginate([20.0] * fits, 600) == [list(range(fits))]
    # One more row would sit on the QR block: it goes to a second page, with the total.
    two = paginate([20.0] * (fits + 1), 600)
    assert len(two) == 2 and two[1] and sum(two, []) == list(range(fits + 1))
    many = paginate([20.0] * 80, 600)
    assert sum(many, []) == list(range(80)) and all(many)


def test_the_verify_url_is_built_from_the_base_url_issuer_number_and_code() -> None:
    base = "https://paiement.evry-courcouronnes.fr/"
    assert verify_url(base, "219102288", "2026-000042", "7KQ2M9XH4P") == URL
    assert verify_url("http://x/regie", "etat-civil", "2026-000001", "a b") == (
        "http://x/regie/receipts/verify/etat-civil/2026-000001?c=a%20b"
    )


def placed_text(pdf: bytes) -> list[tuple[float, float, float, str]]:
    """Each piece of text of the first page with where it starts (x, y in points from the
    bottom left) and its size."""
    found: list[tuple[float, float, float, str]] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        if text.strip():
            found.append((round(tm[4], 1), round(tm[5], 1), size, text.strip()))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


# where each piece of the receipt of make_doc() (with a contact) is drawn, in drawing
# order: the issuer's block top left, the title and number top right, the details in two
# columns, the lines (a long description wraps downward), the total, the verification
# block beside its QR code, the footer (pinned from the
# rendering of the code as it is; a deliberate layout change updates it)
LAYOUT = [
    (51.0, 786.9, 12.0, "Mairie d'Évry – État civil"),
    (51.0, 770.9, 9.0, "Place des Droits de l'Homme et du Citoyen"),
    (51.0, 759.4, 9.0, "91000 Évry-Courcouronnes"),
    (51.0, 747.9, 9.0, "SIRET 219 102 288 00011"),
    (51.0, 736.4, 9.0, "Courriel : etat-civil@evry.fr"),
    (51.0, 724.9, 9.0, "Tél. : 01 60 91 60 91"),
    (351.1, 778.9, 19.0, "Reçu de paiement"),
    (435.6, 758.9, 12.0, "N° 2026-000042"),
    (51.0, 688.4, 8.0, "Date du paiement"),
    (51.0, 674.9, 10.5, "14 mars 2026 à 10:32 (Europe/Paris)"),
    (297.6, 688.4, 8.0, "Payé par"),
    (297.6, 674.9, 10.5, "Hélène Dupré"),
    (51.0, 646.9, 8.0, "Numéro de facture"),
    (51.0, 633.4, 10.5, "F-2026-00137"),
    (297.6, 646.9, 8.0, "Référence"),
    (297.6, 633.4, 10.5, "EC-2026-0451"),
    (51.0, 605.4, 8.0, "Moyen de paiement"),
    (51.0, 591.9, 10.5, "VISA •••• 4242"),
    (297.6, 605.4, 8.0, "Référence de la transaction"),
    (297.6, 591.9, 10.5, "pi_3PqRsT2eZvKYlo2C1aBcDeFg"),
    (57.0, 556.4, 8.5, "Désignation"),
    (349.6, 556.4, 8.5, "Qté"),
    (396.0, 556.4, 8.5, "Prix unitaire"),
    (498.0, 556.4, 8.5, "Montant"),
    (57.0, 537.9, 9.5, "Copie intégrale d'acte de naissance – délivrance"),
    (57.0, 525.4, 9.5, "accélérée"),
    (360.6, 537.9, 9.5, "2"),
    (419.2, 537.9, 9.5, "12,50 €"),
    (502.0, 537.9, 9.5, "25,00 €"),
    (57.0, 505.9, 9.5, "Frais d'envoi en recommandé avec accusé de réception"),
    (360.6, 505.9, 9.5, "1"),
    (405.2, 505.9, 9.5, "1\u202f234,50 €"),
    (488.0, 505.9, 9.5, "1\u202f234,50 €"),
    (309.6, 470.4, 11.0, "Total payé"),
    (462.9, 469.9, 13.0, "1\u202f259,50 €"),
    (486.9, 449.4, 8.0, "Devise : EUR"),
    (51.0, 433.4, 9.0, "Ce reçu atteste le paiement de la facture n° F-2026-00137."),
    (
        175.2,
        56.7,
        7.5,
        "https://paiement.evry-courcouronnes.fr/receipts/verify/219102288/2026-000042?c=7KQ2M9XH4P",
    ),
    (222.5, 152.7, 10.0, "Vérifier ce reçu"),
    (222.5, 138.7, 8.5, "Scannez le code QR ou saisissez l'adresse"),
    (222.5, 127.7, 8.5, "imprimée sous le code pour vérifier que ce"),
    (222.5, 116.7, 8.5, "document est authentique."),
    (51.0, 34.0, 7.5, "Mairie d'Évry – État civil · N° 2026-000042"),
    (511.3, 34.0, 7.5, "Page 1/1"),
]


def test_the_first_page_is_laid_out_as_designed() -> None:
    doc = make_doc(issuer_email="etat-civil@evry.fr", issuer_phone="01 60 91 60 91")
    assert placed_text(render_pdf(doc)) == LAYOUT


def text_fills(pdf: bytes) -> list[tuple[str, tuple[float, ...]]]:
    """Each text shown on the first page (its bytes as Latin-1: ASCII reads as itself in
    reportlab's subsets) with the fill colour it is painted in, following the graphics
    state's save and restore (``q``/``Q``) as a viewer does."""
    reader = PdfReader(io.BytesIO(pdf))
    fill: tuple[float, ...] = (0.0, 0.0, 0.0)
    saved: list[tuple[float, ...]] = []
    found: list[tuple[str, tuple[float, ...]]] = []
    for args, op in ContentStream(reader.pages[0].get_contents(), reader).operations:
        if op == b"q":
            saved.append(fill)
        elif op == b"Q":
            fill = saved.pop()
        elif op == b"rg":
            fill = tuple(round(float(a), 2) for a in args)
        elif op == b"Tj":
            found.append((bytes(args[0].original_bytes).decode("latin-1"), fill))
    return found


def test_the_verify_address_under_the_qr_code_is_printed_grey_like_the_other_notes() -> None:
    """Drawn right after the QR code (filled black inside its own saved state): the address
    must come out grey, not in the QR's black nor in the body's ink."""
    shown = text_fills(render_pdf(make_doc()))
    url = [fill for text, fill in shown if text.startswith("https://")]
    assert url == [tuple(round(c, 2) for c in typeset.GREY)]
    assert any(text == "Page 1/1" and fill == url[0] for text, fill in shown)  # the footer's


def test_the_issuers_identifier_is_printed_grey_like_its_address() -> None:
    """The issuer's block: its name in the body's ink, then its address, identifier and
    contacts as grey notes under it."""
    shown = dict(text_fills(render_pdf(make_doc(issuer_email="etat-civil@evry.fr"))))
    grey = tuple(round(c, 2) for c in typeset.GREY)
    assert shown["Place des Droits de l'Homme et du Citoyen"] == grey
    assert shown["SIRET 219 102 288 00011"] == grey
    assert shown["Courriel : etat-civil@evry.fr"] == grey


def test_the_verify_help_is_wrapped_for_the_size_it_is_printed_at() -> None:
    """The explanation beside the QR code fills its 215 pt column line by line at the size
    it is printed at: no line runs past the QR code, none breaks before a word that fits."""
    placed = placed_text(render_pdf(make_doc(language="en")))
    (heading,) = [p for p in placed if p[3] == "Check this receipt"]
    left = heading[0]
    help_lines = [p for p in placed if p[0] == left and p[1] < heading[1]]
    assert [text for *_, text in help_lines] == [
        "Scan the QR code or type the address printed",
        "under it to check that this document is genuine.",
    ]
    assert all(
        size == 8.5 and stringWidth(text, typeset.FONT, size) <= 215
        for *_, size, text in help_lines
    )
    for (*_, size, line), (*_, after) in zip(help_lines, help_lines[1:], strict=False):
        assert stringWidth(f"{line} {after.split()[0]}", typeset.FONT, size) > 215
