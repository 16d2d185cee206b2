"""The SVG chart of matched and unmatched amounts per run (pure)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from regie.finance.chart import WIDTH, Bar, Labels, run_chart
from regie.kit.money import format_money

SVG = "{http://www.w3.org/2000/svg}"
LABELS = Labels(
    "Rapprochements", "Montants rapprochés et non rapprochés", "Rapproché", "Écart", "Résolu"
)


def describe(bar: Bar) -> str:
    return f"{format_money(bar.matched, 'EUR', 'fr')} / {format_money(bar.unmatched, 'EUR', 'fr')}"


def chart(bars: list[Bar], **kw) -> ET.Element:
    return ET.fromstring(run_chart(bars, LABELS, describe, **kw))


def test_it_is_an_image_named_by_its_title_and_described_by_its_desc() -> None:
    svg = chart([Bar("octobre 2026", 10_000, 500)], chart_id="c1")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c1-title c1-desc"
    assert svg.find(f"{SVG}title").get("id") == "c1-title"
    assert svg.find(f"{SVG}title").text == "Rapprochements"
    assert svg.find(f"{SVG}desc").get("id") == "c1-desc"
    assert svg.find(f"{SVG}desc").text == "Montants rapprochés et non rapprochés"


def test_bars_share_one_scale_and_stack_matched_then_unmatched() -> None:
    svg = chart([Bar("a", 8_000, 2_000), Bar("b", 5_000, 0), Bar("c", 0, 1_000)])
    matched = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "matched"]
    unmatched = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "unmatched"]
    assert [int(r.get("width")) for r in matched] == [WIDTH * 8 // 10, WIDTH // 2]
    assert [int(r.get("width")) for r in unmatched] == [WIDTH // 5, WIDTH // 10]
    # the unmatched part starts where the matched part ends
    assert [int(r.get("x")) for r in unmatched] == [WIDTH * 8 // 10, 0]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts[3:] == [
        "a", "80,00\u00a0€ / 20,00\u00a0€",
        "b", "50,00\u00a0€ / 0,00\u00a0€",
        "c", "0,00\u00a0€ / 10,00\u00a0€",
    ]  # fmt: skip


def test_resolved_discrepancies_are_drawn_apart_from_the_open_ones() -> None:
    svg = chart([Bar("a", 5_000, 1_000, 4_000)])
    parts = {r.get("class"): r for r in svg.iter(f"{SVG}rect") if r.get("class")}
    assert int(parts["matched"].get("width")) == WIDTH // 2
    assert int(parts["resolved"].get("x")) == WIDTH // 2
    assert int(parts["resolved"].get("width")) == WIDTH * 4 // 10
    assert int(parts["unmatched"].get("x")) == WIDTH * 9 // 10
    assert int(parts["unmatched"].get("width")) == WIDTH // 10
    assert parts["resolved"].get("fill") != parts["unmatched"].get("fill")
    legend = [t.text for t in svg.iter(f"{SVG}text")][:3]
    assert legend == ["Rapproché", "Résolu", "Écart"]


def test_two_lines_under_a_bar() -> None:
    markup = run_chart([Bar("a", 1, 1, 1)], LABELS, lambda bar: "one\ntwo")
    texts = [t.text for t in ET.fromstring(markup).iter(f"{SVG}text")]
    assert texts[3:] == ["a", "one", "two"]


def test_a_tiny_amount_stays_visible_and_nothing_overflows() -> None:
    svg = chart([Bar("a", 1_000_000_00, 1), Bar("b", 1, 0)])
    widths = [int(r.get("width")) for r in svg.iter(f"{SVG}rect") if r.get("class")]
    assert widths[0] + widths[1] <= WIDTH
    assert min(widths) >= 2
    svg = chart([Bar("a", 1, 1, 1_000_000_00)])  # the widest part gives up the 2 px
    widths = [int(r.get("width")) for r in svg.iter(f"{SVG}rect") if r.get("class")]
    assert sum(widths) <= WIDTH and min(widths) >= 2


def test_labels_are_escaped() -> None:
    markup = run_chart(
        [Bar('<script>alert("x")</script>', 1, 0)],
        Labels("a & b", "<desc>", "m", "u", "r"),
        lambda bar: "<b>",
    )
    assert "<script>" not in markup
    svg = ET.fromstring(markup)
    assert svg.find(f"{SVG}title").text == "a & b"
    assert any(t.text == '<script>alert("x")</script>' for t in svg.iter(f"{SVG}text"))


def test_no_run_gives_a_legend_only_and_zero_amounts_draw_no_bar() -> None:
    assert not [r for r in chart([]).iter(f"{SVG}rect") if r.get("class")]
    assert not [r for r in chart([Bar("a", 0, 0)]).iter(f"{SVG}rect") if r.get("class")]


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="never negative"):
        run_chart([Bar("a", -1, 0)], LABELS, describe)


def test_no_script_and_no_style_attribute() -> None:
    markup = run_chart([Bar("a", 1, 1)], LABELS, describe)
    assert "<script" not in markup and "style=" not in markup and "on" + "click" not in markup


def test_runs_are_charted_per_currency_with_their_discrepancies_summed() -> None:
    from regie.finance.chart import RunAmounts, bars_by_currency

    runs = [
        RunAmounts(
            "oct",
            {"EUR": 10_000, "XPF": 500},
            [
                {"category": "missing_in_bank", "currency": "EUR", "amount": 300, "count": 1},
                {"category": "amount_mismatch", "currency": "EUR", "amount": 200, "count": 2},
            ],
        ),
        RunAmounts("nov", {}, [{"category": "duplicate", "currency": "XPF", "amount": 7}]),
        RunAmounts("dec", {"EUR": 0}, []),
    ]
    assert bars_by_currency(runs) == {
        "EUR": [Bar("oct", 10_000, 500), Bar("dec", 0, 0)],
        "XPF": [Bar("oct", 500, 0), Bar("nov", 0, 7)],
    }
    runs[0] = RunAmounts(runs[0].label, runs[0].matched, runs[0].categories, {"EUR": 300})
    assert bars_by_currency(runs) == {
        "EUR": [Bar("oct", 10_000, 200, 300), Bar("dec", 0, 0)],
        "XPF": [Bar("oct", 500, 0), Bar("nov", 0, 7)],
    }
    assert bars_by_currency([]) == {}
