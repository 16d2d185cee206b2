"""A reproducible random sample of mutants per package, run by mutmut, scored with a 95 % CI.

    python -m tests.mutation_sample list  [--sample 60] [--seed 20261201]
    python -m tests.mutation_sample run   [--sample 60] [--seed 20261201] [--jobs 1]
    python -m tests.mutation_sample score [--sample 60] [--seed 20261201]

The whole run (~13 700 mutants) takes days on two CPUs; a sample of each package takes an
hour or two and still measures the score: killed / sampled with its Wilson 95 % interval.
`list` generates the mutants when ./mutants has none yet (mutmut's own generation, so the
names are mutmut's) and prints the sample; `run` hands the sampled mutants that have no
result yet to `mutmut run` (so a stopped run resumes; `--again` adds those not killed, to
check new tests) and prints the scores; mutmut maps tests to functions on its first run,
then runs, for each mutant, only the tests that reach its function, fastest first,
stopping at the first failure. `score` prints the scores from the results left in
./mutants. The sample depends only on the seed, the size and the code: the same code
gives the same names, and a smaller sample is part of a larger one (same seed; samples
of up to ~250 per package, where random.sample draws the same way). A timeout counts as
killed (mutmut's rule); a mutant no test reaches counts as not killed. Not a test module:
pytest does not collect it (`make mutation SAMPLE=60` runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import subprocess
import sys
from pathlib import Path

MUTANTS = Path("mutants")
PACKAGES = {"payments": "payments", "ledger": "ledger", "receipts": "receipts"}
PACKAGES |= {"webhooks": "webhooks", "regie.kit": "regie/kit", "reconciliation": "reconciliation"}
KILLED = {1, 3, 36, 24, -24, 152, 255}
STATUS = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not run"}


def generate() -> None:
    """Write ./mutants as `mutmut run` would, without running anything."""
    from mutmut.__main__ import (
        copy_also_copy_files,
        copy_src_dir,
        create_mutants,
        setup_source_paths,
    )
    from mutmut.mutation.trampoline import set_mutant_under_test

    set_mutant_under_test("mutant_generation")
    MUTANTS.mkdir(exist_ok=True)
    with contextlib.redirect_stdout(sys.stderr):  # its progress lines; stdout is the sample
        copy_src_dir()
        copy_also_copy_files()
        setup_source_paths()
        create_mutants(1)


def results_by_package() -> dict[str, dict[str, int | None]]:
    """Every mutant's result (None: not run), by package, from mutmut's .meta files."""
    found: dict[str, dict[str, int | None]] = {}
    for package, directory in PACKAGES.items():
        found[package] = {}
        for meta in sorted((MUTANTS / directory).rglob("*.py.meta")):
            found[package] |= json.loads(meta.read_text())["exit_code_by_key"]
    return found


def sample(size: int, seed: int) -> dict[str, list[str]]:
    """`size` mutant names per package (all when it has fewer), the same for the same seed."""
    if not any(MUTANTS.rglob("*.py.meta")):
        generate()
    picked: dict[str, list[str]] = {}
    for package, results in results_by_package().items():
        names = sorted(results)
        rng = random.Random(f"{seed}:{package}")
        picked[package] = sorted(rng.sample(names, min(size, len(names))))
    return picked


def to_run(picked: dict[str, list[str]], *, again: bool = False) -> list[str]:
    """The sampled mutants without a result yet (a stopped run resumes where it was), and
    with ``again`` also those not killed (after new tests: mutmut runs a named mutant
    again, and maps the new tests first)."""
    results = {k: v for found in results_by_package().values() for k, v in found.items()}
    return [
        name
        for names in picked.values()
        for name in names
        if results.get(name) is None or (again and results[name] not in KILLED)
    ]


def wilson(killed: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion (95 % for z = 1.96)."""
    if n == 0:
        return 0.0, 1.0
    p = killed / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def score(picked: dict[str, list[str]]) -> list[str]:
    """The table of killed / sampled per package, and the names of those not killed."""
    results = results_by_package()
    table = ["| package | killed / sampled | score | 95 % CI (Wilson) | not run yet |"]
    table.append("|---|---|---|---|---|")
    not_killed: list[str] = []
    for package, names in picked.items():
        codes = [results[package].get(name) for name in names]
        run = [code for code in codes if code is not None]
        killed = sum(1 for code in run if code in KILLED)
        low, high = wilson(killed, len(run))
        pct = f"{100 * killed / len(run):.1f} %" if run else ""
        ci = f"{100 * low:.1f}–{100 * high:.1f} %" if run else ""
        table.append(
            f"| `{package}` | {killed} / {len(run)} | {pct} | {ci} | {len(codes) - len(run)} |"
        )
        for name, code in zip(names, codes, strict=True):
            if code is not None and code not in KILLED:
                not_killed.append(f"  {STATUS.get(code, f'exit {code}')}: {name}")
    return table + (["", "Not killed (mutmut show <name>):", *not_killed] if not_killed else [])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.mutation_sample")
    parser.add_argument("command", choices=["list", "run", "score"])
    parser.add_argument("--sample", type=int, default=60, help="mutants per package")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--jobs", type=int, default=1, help="mutmut's --max-children")
    parser.add_argument("--again", action="store_true", help="run: also those not killed")
    parser.add_argument("--mutmut", default=str(Path(sys.executable).with_name("mutmut")))
    parser.add_argument("--packages", nargs="+", choices=sorted(PACKAGES), default=None,
                        help="only these packages' samples (default: all)")  # fmt: skip
    args = parser.parse_args(argv)
    picked = sample(args.sample, args.seed)
    if args.packages:
        picked = {package: picked[package] for package in args.packages}
    if args.command == "list":
        print("\n".join(name for names in picked.values() for name in names))
        return 0
    if args.command == "run":
        names = to_run(picked, again=args.again)
        if names:
            cmd = [args.mutmut, "run", "--max-children", str(args.jobs), *names]
            code = subprocess.run(cmd, check=False).returncode  # noqa: S603 (our own argv)
            if code:
                return code
    print("\n".join(score(picked)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
