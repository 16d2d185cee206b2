"""Matching's third round (pure, no I/O): each payout against its lines and against the
ledger's payout, and the payouts' part of the clearing cut-off.

A payout is the net of the lines it carries (gross - fees - refunds - disputes = net); its
failure lines offset it. The ledger's payout entries are summed per payout, less those of
another period (a failure in the next period is that period's). A ledger payout whose PSP
line is of the week before the period was matched in that period's run.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from reconciliation.book import (
    MISSING_AT_PSP,
    MISSING_IN_LEDGER,
    PAYOUT_MISMATCH,
    Book,
    agree,
    direction,
    in_period,
    ledger_payouts,
    unique_lines,
)
from reconciliation.records import PAYOUT, Inputs, LedgerItem, Payout, PspLine, payout_of


def payout_integrity(inp: Inputs, book: Book) -> None:
    announced = {p.id: p for p in inp.payouts}
    # each payout's lines' net per currency (a payout is in one: a report whose lines are in
    # two is refused, but the PSP's port is not checked so); what the bulk path settled is
    # in its payout's currency (its report was checked)
    nets: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if inp.settled is not None:
        for pid, net in inp.settled.nets.items():
            p = announced.get(pid)
            if p is not None:
                nets[pid][p.currency] += net
    # (with the lines of its payouts the PSP's side does not hold: they are known, and the
    # payout is checked whole)
    for line in unique_lines((*inp.psp_lines, *inp.payout_lines)):
        if line.payout_id and (line.category != PAYOUT or _carried(line)):
            nets[line.payout_id][line.currency] += line.net
    for pid in sorted(nets):
        p = announced.get(pid)
        if p is None:
            continue
        net = nets[pid].get(p.currency, 0)
        others = sorted((cur, n) for cur, n in nets[pid].items() if cur != p.currency)
        carried = p.amount + p.returned  # what it was sent for, before it failed (if it did)
        if carried == net and not others:
            continue
        if others:  # the payout's currency is said, and every other currency of its lines
            detail = f"payout {carried} {p.currency}, its lines' net {net} {p.currency}"
            detail += "".join(f" and {n} {cur}" for cur, n in others) + " (minor units)"
        else:
            detail = f"payout {carried}, its lines' net {net} (minor units)"
        book.flag(
            PAYOUT_MISMATCH, f"lines:{pid}", carried - net, p.currency, payout=pid, detail=detail
        )
    ledger = ledger_payouts(_payout_entries(inp, announced))
    for pid, p in sorted(announced.items()):
        item = ledger.get(pid)
        if item is None:
            if p.arrival_date <= inp.as_of:
                book.flag(
                    MISSING_IN_LEDGER,
                    f"payout:{pid}",
                    p.amount,
                    p.currency,
                    payout=pid,
                    detail="the PSP paid this payout out; the ledger has no payout entry",
                )
        elif -item.gross != p.amount or item.currency != p.currency:
            book.flag(
                PAYOUT_MISMATCH,
                f"ledger:{pid}",
                p.amount + item.gross,
                p.currency,
                payout=pid,
                entry=item.entry_ids[0],
                detail=f"payout {p.amount} {p.currency}, ledger {-item.gross} {item.currency}",
            )
    _earlier_failures(inp, book, announced)
    earlier = _earlier_payouts(inp)
    shown = _ways_shown(inp)
    booked = _ways_booked(inp)
    for pid, item in sorted(ledger.items()):
        if pid not in announced and in_period(inp, item.effective_at):
            if booked[pid] and booked[pid] <= earlier[pid] | shown[pid]:
                # its PSP line out is the previous period's, matched in its run (and its
                # failure, if the ledger books one, is in this period's lines or that one's)
                continue
            covered = inp.psp_covered_until.get(item.currency)
            if covered is None or item.effective_at <= covered:
                book.flag(
                    MISSING_AT_PSP,
                    f"payout:{pid}",
                    item.gross,
                    item.currency,
                    payout=pid,
                    entry=item.entry_ids[0],
                    detail="the ledger books a payout the PSP does not list",
                )


def _earlier_failures(inp: Inputs, book: Book, announced: Mapping[str, Payout]) -> None:
    """A payout of an earlier period that fails in this one (its line out is not here, its
    failure line is: money back in the PSP's balance) against the ledger's reversal of it,
    whenever the ledger booked it (a payout fails once: a reversal booked just before the
    period, the previous run's mismatch, is this failure's and in the clearing cut-off):
    a reversal of another amount is a ``payout_mismatch``, none at all a failure
    ``missing_in_ledger`` (a lost ``payout.failed``). An announced payout's failure is summed
    with the payout itself (``Payout.returned``). A payout's line out that another payout
    carries (a report listing a failed payout's rows under the next one) is compared so too
    with the ledger's entry paying it out."""
    shown = {(pid, way): lines for (pid, way), lines in _shown(inp).items() if pid not in announced}
    # (a payout the PSP's side does not announce shows its line out only when another
    # payout carries it: a report listing a failed payout's rows under the next payout)
    booked: dict[tuple[str, int], list[LedgerItem]] = defaultdict(list)
    for item in inp.ledger_items:
        if item.kind == "payout" and (item.ref, direction(item)) in shown:
            booked[(item.ref, direction(item))].append(item)
    for (pid, way), lines in sorted(shown.items()):
        cur, psp = lines[0].currency, sum(x.net for x in lines)
        items = sorted(booked.get((pid, way), []), key=lambda i: (i.effective_at, i.entry_ids))
        key = f"failure:{pid}" if way == 1 else f"ledger:{pid}"
        what = "failure" if way == 1 else "payout"
        if not items:
            book.flag(
                MISSING_IN_LEDGER,
                key,
                psp,
                cur,
                payout=pid,
                detail="the PSP got this payout back (it failed); the ledger books no reversal"
                if way == 1
                else "the PSP paid this payout out; the ledger has no payout entry",
            )
            continue
        ledger = sum(i.gross for i in items)
        if ledger != psp or any(i.currency != cur for i in items):
            book.flag(
                PAYOUT_MISMATCH,
                key,
                psp - ledger,
                cur,
                payout=pid,
                entry=items[0].entry_ids[0],
                detail=f"{what} {psp} {cur}, ledger {'reversal ' if way == 1 else ''}{ledger} "
                f"{items[0].currency} (minor units)",
            )


def payout_lines(lines: Iterable[PspLine]) -> dict[tuple[str, int], list[PspLine]]:
    """The payout lines per payout and way (``book.direction``: -1 its line out, 1 its
    failure), one per balance transaction; a failure the next payout carries is the failed
    payout's (``records.payout_of``)."""
    out: dict[tuple[str, int], list[PspLine]] = defaultdict(list)
    for line in unique_lines(lines):
        pid = payout_of(line) if line.category == PAYOUT and line.payout_id else None
        if pid:
            out[(pid, direction(line))].append(line)
    return out


def _carried(line: PspLine) -> bool:
    """A payout line that another payout carries: on Stripe's itemised report, the money of
    a failed payout coming back (``payout_reversal``) is a row of the next payout, naming the
    failed one as its source; the report's payout is the net of all its rows, that one too.
    The port lists it so too, by the payout that carried it (``records.payout_of``).)"""
    return (
        line.category == PAYOUT and line.payout_id is not None and payout_of(line) != line.payout_id
    )


def _payout_entries(inp: Inputs, announced: Mapping[str, Payout]) -> list[LedgerItem]:
    """The ledger's items, less the payout entries that are a later period's: an entry
    dated after the period for a payout the PSP's side announces, moving money a way that
    side does not show for it (``book.direction``). A payout paid out on 30 October that fails
    on 3 November: October's PSP side holds the payout going out, not its failure coming
    back (November's line); the ledger's reversal of 3 November, read within the week after
    October, is November's too, and summed into October's payout it made "payout 2437,
    ledger 0" (a failure a week later, beyond the read, made nothing). An entry dated in the
    period is always summed: the ledger reversing in the period a payout the PSP did not
    fail is a mismatch."""
    out: list[LedgerItem] = []
    for item in inp.ledger_items:
        p = announced.get(item.ref) if item.kind == "payout" else None
        if p is not None and item.effective_at.date() > inp.period_to:
            ways = {-1, 1} if p.returned else {-1}  # out; back in too when it failed
            if direction(item) not in ways:
                continue
        out.append(item)
    return out


def _earlier_payouts(inp: Inputs) -> defaultdict[str, set[int]]:
    """Per payout, the ways the PSP moved its money in the week before the period
    (``Inputs.psp_before``, read from its port): -1 its payout line, 1 its failure."""
    out: defaultdict[str, set[int]] = defaultdict(set)
    for pid, way in payout_lines(inp.psp_before):
        out[pid].add(way)
    return out


def _ways_shown(inp: Inputs) -> defaultdict[str, set[int]]:
    """Per payout, the ways the PSP's payout lines of the period move its money: a payout
    of the week before that fails in the period has its failure line here (1); a payout the
    PSP's side does not announce has its line out here (-1) when another payout carries it
    (an itemised report listing a failed payout's rows under the next payout). The ledger's
    entries of those ways are compared with them (``_earlier_failures``)."""
    out: defaultdict[str, set[int]] = defaultdict(set)
    for pid, way in _shown(inp):
        out[pid].add(way)
    return out


def _shown(inp: Inputs) -> dict[tuple[str, int], list[PspLine]]:
    """The period's payout lines per payout and way that say what a payout the PSP's side
    does not announce did: its failure, and its line out when another payout carries it (a
    payout's own line out announces it; one the PSP's side leaves out is not shown)."""
    return {
        (pid, way): lines
        for (pid, way), lines in payout_lines(inp.psp_lines).items()
        if way == 1 or all(_carried(x) for x in lines)
    }


def _ways_booked(inp: Inputs) -> defaultdict[str, set[int]]:
    """Per payout, the ways the ledger's payout entries dated in the period move money. A
    payout Stripe makes on 30 October arrives on 2 November, when ``payout.paid`` comes and
    regie books it: its PSP line is October's (October's run matched it with this very
    entry, read in the week after October), and November's run, holding that line among
    the PSP's lines of the week before, does not call the entry missing at the PSP. An entry
    moving money a way the PSP's earlier lines do not (a reversal of the payout with no
    failure line before the period) is still looked at."""
    out: defaultdict[str, set[int]] = defaultdict(set)
    for item in inp.ledger_items:
        if item.kind == "payout" and in_period(inp, item.effective_at):
            out[item.ref].add(direction(item))
    return out


def payout_cut_off(inp: Inputs, book: Book) -> None:
    """The payouts' part of the clearing cut-off (``Result.clearing_cut_off``). A payout
    moves the clearing account at most once each way: out when it is paid, back when the
    bank returns it. The PSP dates each move by its line; the ledger by the event that told
    regie, days later for a payout Stripe creates on a Friday and reports paid on the
    Monday. Each way is compared alone (the two ways of one payout are often in two
    periods): the ledger's entries that agree with the period's lines of that way and are
    booked before or after the period, and the ledger's entries of the period for a way
    whose line the PSP made in the week before it (a payout the ledger booked as ``paid``
    and that the rounds flagged missing at the PSP is left to that discrepancy)."""
    flagged = {d.payout_id for d in book.discrepancies if d.category == MISSING_AT_PSP}
    lines, before = payout_lines(inp.psp_lines), payout_lines(inp.psp_before)
    booked: dict[tuple[str, int], list[LedgerItem]] = defaultdict(list)
    for item in inp.ledger_items:
        if item.kind == "payout":
            booked[(item.ref, direction(item))].append(item)
    for (pid, way), items in sorted(booked.items()):
        own = lines.get((pid, way))
        if own:
            if agree(own, items):
                for i in items:
                    if not in_period(inp, i.effective_at):
                        book.cross(i, -1)
        elif (pid, way) in before and pid not in flagged:
            now = [i for i in items if in_period(inp, i.effective_at)]
            if agree(before[(pid, way)], now):  # (else the previous run found them apart)
                for i in now:
                    book.cross(i, 1)
