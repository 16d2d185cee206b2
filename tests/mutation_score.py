"""Per-module mutation scores from the results `make mutation` left in ./mutants.

    python -m tests.mutation_score payments/signing.py ledger/        (files or directories)

mutmut prints one running total for everything it has tested; this reads its per-file
result files (``mutants/<module>.py.meta``) and prints, per module, killed / checked,
the score, how many were not run yet, and each checked mutant that was not killed
(``mutmut show <name>`` prints its diff). A timeout counts as killed (the test run never
finished: mutmut's own rule); a mutant no test reaches counts as not killed. Not a test
module: pytest does not collect it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MUTANTS = Path("mutants")
KILLED = {1: "killed", 3: "killed", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}
OTHER = {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped", None: "not run"}


def modules(args: list[str]) -> list[Path]:
    found: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.suffix == ".py":
            found.append(path)
        else:
            found += sorted(
                p.relative_to(MUTANTS).with_suffix("") for p in (MUTANTS / path).rglob("*.py.meta")
            )
    return found


def main(args: list[str]) -> int:
    if not args:
        print(__doc__)
        return 2
    total_killed = total = 0
    print("| module | killed / checked | score | not run yet |\n|---|---|---|---|")
    lines: list[str] = []
    for module in modules(args):
        meta = MUTANTS / f"{module}.meta"
        if not meta.exists():
            print(f"| `{module}` | not mutated yet | | |")
            continue
        results: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        if not results:
            continue  # nothing to mutate (no function bodies)
        killed = sum(1 for code in results.values() if code in KILLED)
        checked = sum(1 for code in results.values() if code is not None)
        score = f"{100 * killed / checked:.1f} %" if checked else ""
        print(f"| `{module}` | {killed} / {checked} | {score} | {len(results) - checked} |")
        total_killed, total = total_killed + killed, total + checked
        for name, code in sorted(results.items()):
            if code is not None and code not in KILLED:
                lines.append(f"  {OTHER.get(code, f'exit {code}')}: {name}")
    if total:
        print(f"| all | {total_killed} / {total} | {100 * total_killed / total:.1f} % | |")
    print("\n".join(["", "Not killed:", *lines] if lines else []))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
