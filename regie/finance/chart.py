"""A server-rendered SVG chart of matched and unmatched amounts per reconciliation run. Pure.

One horizontal stacked bar per run, on one scale: the matched part, the part of its
discrepancies resolved since, then the part still open. The SVG is an image to assistive technology (``role="img"`` named by its
``<title>`` and described by its ``<desc>``); the page puts the same figures in a table
beside it, so nothing is told by the picture alone. No script, no style attribute (the
pages' Content-Security-Policy allows neither): colours are presentation attributes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH = 328  # a phone's width less the page margins, so that its text keeps its size there
ROW = 86  # a run: its label, its bar, then what the bar says in words (two lines)
BAR = 16
LEGEND = 56  # two lines: matched and resolved, then open
MATCHED_COLOUR = "#000091"  # the stylesheet's blue
RESOLVED_COLOUR = "#18753c"  # a success green (3:1 and more on white)
UNMATCHED_COLOUR = "#ce0500"  # the stylesheet's error red
TEXT_COLOUR = "#161616"
TRACK_COLOUR = "#e5e5e5"
FONT = 'font-family="system-ui, sans-serif" font-size="14"'


@dataclass(frozen=True)
class Bar:
    label: str
    matched: int  # minor units, >= 0
    unmatched: int  # minor units, >= 0: discrepancies still open
    resolved: int = 0  # minor units, >= 0: discrepancies resolved since the run

    @property
    def total(self) -> int:
        return self.matched + self.resolved + self.unmatched


@dataclass(frozen=True)
class RunAmounts:
    """What a run's summary says: per currency, the matched amount; and its discrepancies'
    amounts by category and currency; and, per currency, how much of them was resolved
    since."""

    label: str
    matched: Mapping[str, int]
    categories: Sequence[Mapping[str, object]]  # {"currency", "amount", ...}
    resolved: Mapping[str, int] = field(default_factory=dict)


def bars_by_currency(runs: Iterable[RunAmounts]) -> dict[str, list[Bar]]:
    """One chart per currency (amounts of different currencies never share a scale); a run
    without that currency gets no bar in its chart. What a run found in discrepancies is
    split into what was resolved since and what is still open."""
    matched: dict[str, dict[int, int]] = {}
    unmatched: dict[str, dict[int, int]] = {}
    resolved: dict[str, dict[int, int]] = {}
    labels: list[str] = []
    for i, run in enumerate(runs):
        labels.append(run.label)
        for currency, amount in run.matched.items():
            matched.setdefault(currency, {})[i] = abs(int(amount))
        for cat in run.categories:
            found = cat["amount"]
            assert isinstance(found, int)
            per_run = unmatched.setdefault(str(cat["currency"]), {})
            per_run[i] = per_run.get(i, 0) + abs(found)
        for currency, amount in run.resolved.items():
            resolved.setdefault(currency, {})[i] = abs(int(amount))
    charts: dict[str, list[Bar]] = {}
    for currency in sorted(set(matched) | set(unmatched)):
        m, u = matched.get(currency, {}), unmatched.get(currency, {})
        r = resolved.get(currency, {})
        charts[currency] = [
            Bar(
                label,
                m.get(i, 0),
                max(0, u.get(i, 0) - r.get(i, 0)),
                min(r.get(i, 0), u.get(i, 0)),
            )
            for i, label in enumerate(labels)
            if i in m or i in u
        ]
    return charts


@dataclass(frozen=True)
class Labels:
    title: str
    description: str
    matched: str
    unmatched: str
    resolved: str


def _width(amount: int, scale: int, span: int) -> int:
    """Pixels of ``amount`` on a bar of ``span`` pixels for ``scale``; a non-zero amount
    stays visible (at least 2 px)."""
    if amount <= 0 or scale <= 0:
        return 0
    return max(2, amount * span // scale)


def run_chart(
    bars: Sequence[Bar],
    labels: Labels,
    describe: Callable[[Bar], str],
    *,
    chart_id: str = "runs-chart",
) -> str:
    """The chart's SVG markup (every text escaped); ``describe`` gives the lines written
    under each bar (its amounts, in the page's language; one per line of its text)."""
    for bar in bars:
        if bar.matched < 0 or bar.unmatched < 0 or bar.resolved < 0:
            raise ValueError("chart amounts are sums of absolute amounts, never negative")
    scale = max((bar.total for bar in bars), default=0)
    height = LEGEND + ROW * len(bars) + 4
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" '
        f'role="img" aria-labelledby="{escape(title_id)} {escape(desc_id)}" focusable="false" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet">',
        f'<title id="{escape(title_id)}">{escape(labels.title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(labels.description)}</desc>',
        # the legend
        f'<rect x="0" y="8" width="14" height="14" fill="{MATCHED_COLOUR}"/>',
        f'<text x="20" y="20" {FONT} fill="{TEXT_COLOUR}">{escape(labels.matched)}</text>',
        f'<rect x="180" y="8" width="14" height="14" fill="{RESOLVED_COLOUR}"/>',
        f'<text x="200" y="20" {FONT} fill="{TEXT_COLOUR}">{escape(labels.resolved)}</text>',
        f'<rect x="0" y="30" width="14" height="14" fill="{UNMATCHED_COLOUR}"/>',
        f'<text x="20" y="42" {FONT} fill="{TEXT_COLOUR}">{escape(labels.unmatched)}</text>',
    ]
    for i, bar in enumerate(bars):
        top = LEGEND + i * ROW
        matched = _width(bar.matched, scale, WIDTH)
        resolved = _width(bar.resolved, scale, WIDTH)
        unmatched = _width(bar.unmatched, scale, WIDTH)
        # a tiny part's 2 px come off the widest other one
        over = max(0, matched + resolved + unmatched - WIDTH)
        if matched >= max(resolved, unmatched):
            matched -= over
        elif resolved >= unmatched:
            resolved -= over
        else:
            unmatched -= over
        out.append(
            f'<text x="0" y="{top + 14}" {FONT} fill="{TEXT_COLOUR}">{escape(bar.label)}</text>'
        )
        out.append(
            f'<rect x="0" y="{top + 20}" width="{WIDTH}" height="{BAR}" fill="{TRACK_COLOUR}"/>'
        )
        if matched:
            out.append(
                f'<rect class="matched" x="0" y="{top + 20}" width="{matched}" height="{BAR}" '
                f'fill="{MATCHED_COLOUR}"/>'
            )
        if resolved:
            out.append(
                f'<rect class="resolved" x="{matched}" y="{top + 20}" width="{resolved}" '
                f'height="{BAR}" fill="{RESOLVED_COLOUR}"/>'
            )
        if unmatched:
            out.append(
                f'<rect class="unmatched" x="{matched + resolved}" y="{top + 20}" '
                f'width="{unmatched}" height="{BAR}" fill="{UNMATCHED_COLOUR}"/>'
            )
        for n, line in enumerate(describe(bar).split("\n")[:2]):
            out.append(
                f'<text x="0" y="{top + 20 + BAR + 16 + 18 * n}" {FONT} fill="{TEXT_COLOUR}">'
                f"{escape(line)}</text>"
            )
    out.append("</svg>")
    return "\n".join(out)
