"""What every ``regie`` subcommand module shares: settings with logging, the database check,
failing, and writing to a terminal whatever its encoding."""

from __future__ import annotations

import asyncio
import codecs
import gc
import io
import logging
import os
import sys
import unicodedata
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from regie.kit.settings import Settings

HOW = (
    "point REGIE_DATABASE_URL (or `regie --database-url URL …`) at your database "
    "(the demo's is sqlite+aiosqlite:///./regie-demo.db), or create this one with "
    "`regie db upgrade`"
)


def load_settings() -> Settings:
    from regie.kit.logging import configure

    settings = Settings()
    configure(settings.log_level)
    return settings


T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, with the result handed back outside the main task. When it
    ends, Python 3.11's ``asyncio.run`` looks its SIGINT handler up by value
    (``signal.getsignal``, twice), which formats the handler's repr, and so the main task's
    and its result's: a command's whole output (a report's bytes, a run with ten thousand
    discrepancies: 0.13 s of the CLI's reconcile) turned into text twice for nothing."""
    box: list[T] = []

    async def keep() -> None:
        box.append(await main)

    asyncio.run(keep())
    return box[0]


# Set by ``regie.cli.main`` when regie runs as its own process (the console script or
# ``python -m regie.cli``), not inside a caller such as a test's runner.
OWN_PROCESS = False


def finish(exit_code: int) -> NoReturn:
    """Ends a command whose work is done and whose output is written. In its own process,
    it ends the process at once, once the output streams and the logs are flushed: Python's
    teardown of the modules and of a large run's memory took about a second after a
    million-row reconcile, and nothing in it is the command's. Otherwise it raises
    ``typer.Exit`` as usual."""
    if not OWN_PROCESS:
        raise typer.Exit(exit_code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(exit_code)


def one_shot() -> None:
    """For a command that runs once and ends (``finish``) in its own process: the cyclic
    garbage collector is stopped. Imports, the ledger's hand-over and a large run allocate
    millions of objects that live until the end, and the collector walked them again and
    again for nothing (about half a second of a million-row reconcile)."""
    if OWN_PROCESS:
        gc.disable()


# What a terminal whose encoding lacks a character is shown instead (``plain_terminal``);
# any other character is written without its accents where that is enough (NFKD: "É" is
# "E" in ASCII), else as "?"
PLAIN = {
    "€": "EUR",
    "\u00a0": " ",  # no-break space
    "\u202f": " ",  # narrow no-break space (French thousands, before €)
    "…": "...",
    "–": "-",
    "—": "-",
    "−": "-",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "«": '"',
    "»": '"',
    "→": "->",
    "·": "-",
    "•": "*",
}
PLAIN_ERRORS = "regie.plain"  # the codecs error handler's name


def _plain(err: UnicodeError) -> tuple[str, int]:
    """The codecs error handler of ``plain_terminal``: the characters ``err`` could not
    encode, written plainly in its encoding."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    text, said = err.object, []
    for at in range(err.start, err.end):
        char = text[at]
        plain = PLAIN.get(char)
        if plain is None:
            bare = unicodedata.normalize("NFKD", char)
            plain = "".join(c for c in bare if not unicodedata.combining(c))
        elif plain == "EUR" and text[at + 1 : at + 2].isdigit():
            plain = "EUR "  # English writes €12.00: EUR 12.00
        try:
            plain.encode(err.encoding)
        except UnicodeEncodeError:
            plain = "?"
        said.append(plain)
    return "".join(said), err.end


def plain_terminal() -> None:
    """stdout and stderr write what their encoding cannot (a Latin-1 or an ASCII terminal:
    ``€``, ``→``, a name in another script, a file name's undecodable bytes) plainly
    (``PLAIN``: ``EUR``, ``->``, ``?``), never a UnicodeEncodeError: ``regie reconcile``'s
    summary stopped there after its run was stored, and exited 1 whatever the run said.
    ``regie.cli.main`` sets it for every command; the machine formats are written as UTF-8
    bytes instead (``write_utf8``)."""
    try:
        codecs.lookup_error(PLAIN_ERRORS)
    except LookupError:
        codecs.register_error(PLAIN_ERRORS, _plain)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors=PLAIN_ERRORS)


def write_utf8(body: str) -> None:
    """A file's text to stdout as UTF-8 bytes whatever the terminal's encoding (JSON is
    UTF-8, RFC 8259; a CSV carries its byte order mark), piped to a file as it would be
    written to one."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream (a caller's)
        sys.stdout.write(body)
        return
    buffer.write(body.encode("utf-8"))
    buffer.flush()


def fail(message: str, exit_code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(exit_code)


def check_output(path: Path, exit_code: int = 2) -> None:
    """The file ``--output`` names can be written: checked before the command does its work
    (a stored run or batch whose report cannot be written would be stored, its output lost),
    else one line naming it and ``exit_code``."""
    folder = path.parent
    problem = None
    if path.is_dir():
        problem = "is a directory"
    elif not folder.is_dir():
        problem = f"no directory {folder}"
    elif not os.access(folder, os.W_OK | os.X_OK) or (
        path.exists() and not os.access(path, os.W_OK)
    ):
        problem = "not writable"
    if problem:
        fail(f"--output {path}: {problem}", exit_code)


def read_input(path: Path, max_bytes: int, exit_code: int = 2) -> bytes:
    """A file's bytes, or one line naming it and ``exit_code`` when it cannot be read (a
    folder, missing, unreadable) or is larger than ``max_bytes`` (no more than that is
    read: a pipe has no size to check first)."""
    try:
        data = b""
        if path.stat().st_size <= max_bytes:
            with path.open("rb") as fh:
                data = fh.read(max_bytes + 1)
        if path.stat().st_size > max_bytes or len(data) > max_bytes:
            fail(f"{path}: the file is larger than {max_bytes} bytes", exit_code)
        return data
    except OSError as err:
        fail(f"{path}: cannot read it ({err.strerror or err})", exit_code)


def database_settings(exit_code: int = 1) -> Settings:
    """Settings for a command that works on an existing, migrated database: without one,
    exit 1 with one line naming it and saying how to point at the right one. Nothing is
    created (SQLite creates a file on connecting; only `db upgrade` and `demo` may)."""
    settings = load_settings()
    check_database(settings, exit_code)
    return settings


def check_database(settings: Settings, exit_code: int = 1) -> None:
    """Exits with ``exit_code`` and one line saying why when the settings' database is not
    a migrated regie database to work on."""
    problem = database_problem(settings.database_url)
    if problem:
        fail(problem, exit_code)


def _first_line(exc: BaseException) -> str:
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig  # the driver's words, not SQLAlchemy's wrapping
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def database_problem(url: str) -> str | None:
    """Why ``url`` is not a regie database to work on, in one line; None when it is."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"REGIE_DATABASE_URL is not a database URL; {HOW}"
    shown = parsed.render_as_string(hide_password=True)
    path = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:"):
        if not path.startswith("file:") and not Path(path).is_file():
            return f"no database at {path} (REGIE_DATABASE_URL={shown}); {HOW}"
    return asyncio.run(_schema_problem(url, shown))


async def _schema_problem(url: str, shown: str) -> str | None:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine

    from regie.migrate import code_revisions, database_revisions, migrations_pending

    connect_args = {} if url.startswith("sqlite") else {"timeout": 10}
    try:
        engine = create_async_engine(url, connect_args=connect_args)
    except (SQLAlchemyError, ImportError) as exc:  # an unknown driver, a bad option
        return f"cannot use the database {shown}: {_first_line(exc)}; {HOW}"
    try:
        revisions = await database_revisions(engine)
    except (SQLAlchemyError, OSError) as exc:  # refused, unknown host or database, password
        return f"cannot open the database {shown}: {_first_line(exc)}; {HOW}"
    finally:
        await engine.dispose()
    version = min(revisions) if revisions else None
    if version is None:
        return (
            f"the database {shown} is not a regie database (no migrations applied): "
            f"run `regie db upgrade` on it, or {HOW.split(', or ')[0]}"
        )
    head, known = code_revisions()
    if migrations_pending(revisions, head, known):  # behind; a newer one's schema is fine
        return (
            f"the database {shown} is at migration {version}, this regie needs {head}: "
            "run `regie db upgrade`"
        )
    return None
