"""The run's checksum (``reconciliation.digest``): what it covers, and what it does not."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reconciliation.digest import checksum
from reconciliation.records import Inputs, LedgerItem, PspLine

AT = dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC)


def _inputs(**changes: object) -> Inputs:
    base = Inputs(
        period_from=dt.date(2026, 10, 1),
        period_to=dt.date(2026, 10, 31),
        psp_lines=(PspLine("txn_1", "charge", ("pi_1",), 1250, 40, 1210, "EUR", "po_1", AT),),
        ledger_items=(LedgerItem("payment", "pi_1", 1250, 40, "EUR", ("je_1",), AT),),
        payouts=(),
        bank_lines=(),
        as_of=dt.date(2026, 11, 20),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_report_read_from_a_file_counts_by_its_bytes_not_its_lines() -> None:
    a, b = "a" * 64, "b" * 64
    with_file = _inputs(psp_file_sha256=a)
    # the same file, whatever lines are left of it after the bulk path's settled pairs
    assert checksum(with_file) == checksum(dataclasses.replace(with_file, psp_lines=()))
    assert checksum(with_file) != checksum(_inputs(psp_file_sha256=b))
    assert checksum(with_file) != checksum(_inputs())


def test_without_a_file_the_lines_and_the_ledger_count() -> None:
    base = checksum(_inputs())
    line = _inputs().psp_lines[0]
    assert base == checksum(_inputs())
    assert base != checksum(_inputs(psp_lines=(dataclasses.replace(line, fee=41),)))
    item = _inputs().ledger_items[0]
    assert base != checksum(_inputs(ledger_items=(dataclasses.replace(item, gross=1251),)))
    with_file = _inputs(psp_file_sha256="a" * 64)
    changed = dataclasses.replace(with_file, ledger_items=(dataclasses.replace(item, fee=0),))
    assert checksum(with_file) != checksum(changed)


def test_the_psp_lines_before_the_period_count_apart_from_its_own() -> None:
    """The PSP's lines of the week before the period (``Inputs.psp_before``, read from its
    port) are inputs of the run: they count, and a line there is not the same input as the
    same line in the period."""
    base = checksum(_inputs())
    line = _inputs().psp_lines[0]
    before = dataclasses.replace(line, id="txn_0")
    assert base != checksum(_inputs(psp_before=(before,)))
    assert checksum(_inputs(psp_lines=(), psp_before=(line,))) != base
    assert checksum(_inputs(psp_before=())) == base
