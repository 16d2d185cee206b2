"""README, "Production notes": the commands that set up a new database (its client
services, their keys, the finance key), run as written, in order, on a new database."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.regie.test_cli import cli_env, run  # noqa: F401 (cli_env: a fixture)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_new_database_commands_of_the_production_notes_run_as_written(
    cli_env: dict[str, str],  # noqa: F811
) -> None:
    notes = README.read_text(encoding="utf-8").split("## Production notes", 1)[1]
    bullet = notes.split("- A new database holds no service", 1)[1].split("\n- ", 1)[0]
    commands = [
        shlex.split(c.replace("\n", " "))
        for c in re.findall(r"`(regie [^`]+)`", bullet)
        if c.split()[1] in ("services", "keys")
    ]
    assert any(c[1:3] == ["keys", "create"] and "finance" in c for c in commands), commands
    done = run(["db", "upgrade"], cli_env)
    assert done.returncode == 0, done.stderr
    for command in commands:
        done = run(command[1:], cli_env)
        assert done.returncode == 0, (command, done.stderr)
