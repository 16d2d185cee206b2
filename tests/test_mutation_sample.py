"""The mutation sample's arithmetic: the same seed picks the same mutants, and the score
and its Wilson interval are read from mutmut's result files as mutmut counts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import mutation_sample as ms


def write_meta(root: Path, module: str, results: dict[str, int | None]) -> None:
    meta = root / "mutants" / f"{module}.py.meta"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"exit_code_by_key": results}))


@pytest.fixture
def mutants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for package, directory in ms.PACKAGES.items():
        names = {f"{package}.m.x_f__mutmut_{i}": None for i in range(1, 31)}
        write_meta(tmp_path, f"{directory}/m", names)
    return tmp_path


def test_the_wilson_interval_of_known_proportions() -> None:
    # the roots of (p̂ - p)² = z² p(1 - p) / n, solved apart
    low, high = ms.wilson(57, 60)
    assert (round(low, 4), round(high, 4)) == (0.8630, 0.9829)
    low, high = ms.wilson(60, 60)
    assert (round(low, 4), round(high, 4)) == (0.9398, 1.0)
    assert ms.wilson(0, 0) == (0.0, 1.0)


def test_the_same_seed_picks_the_same_mutants_and_another_seed_others(mutants: Path) -> None:
    first = ms.sample(10, seed=1)
    assert first == ms.sample(10, seed=1)
    assert first != ms.sample(10, seed=2)
    assert {package: len(names) for package, names in first.items()} == dict.fromkeys(
        ms.PACKAGES, 10
    )
    assert all(name.startswith(f"{package}.") for package in first for name in first[package])
    assert len(ms.sample(100, seed=1)["ledger"]) == 30  # all of a smaller package
    larger = ms.sample(20, seed=1)  # a smaller sample is part of a larger one
    assert all(set(first[package]) <= set(larger[package]) for package in first)


def test_a_run_resumes_and_again_adds_those_not_killed(mutants: Path) -> None:
    picked = ms.sample(3, seed=1)
    a, b, c = picked["ledger"]
    write_meta(mutants, "ledger/m", {a: 1, b: 0, c: None})
    assert [n for n in ms.to_run(picked) if n.startswith("ledger.")] == [c]
    assert [n for n in ms.to_run(picked, again=True) if n.startswith("ledger.")] == [b, c]


def test_the_score_counts_timeouts_as_killed_and_no_tests_as_not(mutants: Path) -> None:
    picked = ms.sample(4, seed=1)
    a, b, c, d = picked["ledger"]
    write_meta(mutants, "ledger/m", {a: 1, b: 36, c: 33, d: None})
    table = ms.score(picked)
    assert "| `ledger` | 2 / 3 | 66.7 % | 20.8–93.9 % | 1 |" in table
    assert "| `payments` | 0 / 0 |  |  | 4 |" in table
    assert table[-1] == f"  no tests: {c}"


def test_packages_narrow_the_sample_to_theirs(
    mutants: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ms.main(["list", "--sample", "3", "--packages", "reconciliation", "ledger"]) == 0
    listed = capsys.readouterr().out.split()
    assert len(listed) == 6
    assert {name.split(".")[0] for name in listed} == {"reconciliation", "ledger"}
    assert set(listed) == set(ms.sample(3, 20261201)["reconciliation"]) | set(
        ms.sample(3, 20261201)["ledger"]
    )
