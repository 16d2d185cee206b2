"""The pages' ``whole`` filter (regie.kit.web.keep_whole): a part of a text kept on one
line, everything escaped."""

from __future__ import annotations

from regie.kit.web import build_environment, keep_whole


def test_the_part_is_kept_on_one_line_and_the_rest_is_escaped() -> None:
    assert keep_whole("Reçu n°\u00a02026-000010", "2026-000010") == (
        'Reçu n°\u00a0<span class="nowrap">2026-000010</span>'
    )
    assert keep_whole("<b> AV-1 (PDF) AV-1", "AV-1") == (
        '&lt;b&gt; <span class="nowrap">AV-1</span> (PDF) AV-1'  # the first one only
    )
    assert keep_whole("a & <b>", "<b>") == 'a &amp; <span class="nowrap">&lt;b&gt;</span>'


def test_a_part_not_in_the_text_leaves_it_escaped_only() -> None:
    assert keep_whole("x < y", "z") == "x &lt; y"
    assert keep_whole("x < y", "") == "x &lt; y"


def test_pages_have_the_filter() -> None:
    template = build_environment().from_string("{{ t|whole(n) }}")
    assert template.render(t="No. 2026-1", n="2026-1") == 'No. <span class="nowrap">2026-1</span>'
