"""Real-browser fixtures: the system Chromium through pytest-playwright's sync API, and a
real ``regie demo`` server in a subprocess.

Three things make these tests live alongside the rest of the suite, which is async
(pytest-asyncio in auto mode), in one ``pytest`` run:

* Only the *sync* Playwright API is used here; the async one cannot share the session.
* While sync Playwright is started, its event loop counts as "running" in the main thread
  (Playwright parks it in a greenlet between calls), so any later ``async def`` test would
  fail with "cannot be called from a running event loop". ``_playwright_stops_with_package``
  therefore closes the browser and stops Playwright when the last test of this package is
  done, whatever order the packages run in; ``browser`` below tolerates that at the end of
  the session.
* Chromium writes under ``$HOME``: it gets a temporary ``HOME`` of its own.

No browser: the tests are skipped with a message saying how to get one, unless
``REGIE_REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM = Path(os.environ.get("REGIE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_KEY = "rk_test_ser_demo_urbanisme"  # seeded by `regie demo` (regie/demo.py)
SERVER_START_TIMEOUT = 60.0
ACTION_TIMEOUT_MS = 15_000


_axe = Axe()  # axe-core from the axe-playwright-python wheel, never from a CDN
# WCAG 2.0 to 2.2, A and AA, and axe's best practices: what a run with no options checks, and
# WCAG 2.2's target size (24 by 24 CSS pixels, 2.5.8), which axe-core leaves out unless asked
WCAG22 = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
}


def assert_accessible(page: Page, what: str) -> None:
    """axe-core finds no violation; the failure lists each one, its elements and why."""
    results = _axe.run(page, options=WCAG22)
    if results.violations_count:
        lines = [f"axe-core: {results.violations_count} violation(s) on the {what} ({page.url})"]
        for v in results.response["violations"]:
            lines.append(f"- {v['id']} [{v['impact']}]: {v['help']} ({v['helpUrl']})")
            for node in v["nodes"]:
                lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:200]}")
                for check in node.get("any", []) + node.get("all", []) + node.get("none", []):
                    lines.append(f"      * {check['message']}")
        raise AssertionError("\n".join(lines))


def _browser_missing_reason() -> str | None:
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return (
        f"browser tests need Chromium at {CHROMIUM} (Debian: `apt-get install chromium`; "
        "or set REGIE_CHROMIUM to another Chromium binary); set REGIE_REQUIRE_BROWSER=1 "
        "to make this a failure"
    )


@pytest.fixture(scope="session")
def _chromium_available() -> None:
    reason = _browser_missing_reason()
    if reason is None:
        return
    if os.environ.get("REGIE_REQUIRE_BROWSER") == "1":
        pytest.fail("REGIE_REQUIRE_BROWSER=1 but " + reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _browser_check(_chromium_available: None) -> None:
    """Every test here skips (or fails, in CI) before anything launches a browser."""


# ---------------------------------------------------------------- pytest-playwright
@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    _chromium_available: None,
) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("chromium-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
        "env": env,
        "timeout": 60_000,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """A French phone by default: the citizen's most common case."""
    return {
        **browser_context_args,
        "viewport": {"width": 360, "height": 740},
        "locale": "fr-FR",
        "timezone_id": "Europe/Paris",
    }


@pytest.fixture(scope="session")
def browser(launch_browser: Callable[[], Browser]) -> Iterator[Browser]:
    """pytest-playwright's ``browser``, closed only if still connected (see module doc)."""
    b = launch_browser()
    yield b
    if b.is_connected():
        b.close()


@pytest.fixture(scope="package", autouse=True)
def _playwright_stops_with_package(playwright: Playwright, browser: Browser) -> Iterator[None]:
    """Stop sync Playwright when this package's tests are done (see the module doc)."""
    if not browser.is_connected():
        pytest.fail("Playwright was already stopped: keep tests/browser together", pytrace=False)
    yield
    if browser.is_connected():
        browser.close()
    playwright.stop()  # pytest-playwright's own stop at the session's end is then a no-op


def _bounded(page: Page) -> Page:
    page.set_default_timeout(ACTION_TIMEOUT_MS)
    page.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    return page


@pytest.fixture
def page(page: Page) -> Page:
    return _bounded(page)


@pytest.fixture
def make_page(
    browser: Browser, browser_context_args: dict[str, Any]
) -> Iterator[Callable[..., Page]]:
    """``make_page(locale="en-GB")``: a page in a fresh context with other options."""
    contexts: list[BrowserContext] = []

    def make(**overrides: Any) -> Page:
        context = browser.new_context(**{**browser_context_args, **overrides})
        contexts.append(context)
        return _bounded(context.new_page())

    yield make
    for context in contexts:
        context.close()


# ----------------------------------------------------------------- the demo server
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _regie_command() -> list[str]:
    script = Path(sys.executable).with_name("regie")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from regie.cli import main; main()"]


@dataclass
class DemoServer:
    base_url: str
    key: str
    log: Path
    database_url: str = ""

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=10,
        )

    def create_invoice(self, reference: str, amount: int = 2500) -> dict[str, Any]:
        with self.api() as c:
            r = c.post(
                "/v1/invoices",
                json={
                    "amount": amount,
                    "currency": "EUR",
                    "reference": reference,
                    "description": "Instruction d'une déclaration préalable de travaux",
                    "payer": {"name": "Camille Martin"},
                },
            )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        with self.api() as c:
            r = c.get(f"/v1/invoices/{invoice_id}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _start_demo(tmp: Path) -> tuple[subprocess.Popen[bytes], DemoServer]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGIE_", "STRIPE_"))}
    env.update(
        REGIE_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'demo.db'}",
        REGIE_BASE_URL=base_url,
        REGIE_ENV="development",
        REGIE_LOG_LEVEL="WARNING",
        # one browser session walks many pages from 127.0.0.1 in a minute
        REGIE_RATE_LIMIT_ADDRESS="100000/minute",
        HOME=str(tmp),
    )
    log = tmp / f"server-{port}.log"
    database_url = env["REGIE_DATABASE_URL"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*_regie_command(), "demo", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return proc, DemoServer(base_url, DEMO_KEY, log, database_url)


def _wait_healthy(proc: subprocess.Popen[bytes], server: DemoServer) -> bool:
    """True once /healthz answers; False if the process exited (e.g. the port was taken)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while proc.poll() is None:
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=1).status_code == 200:
                return proc.poll() is None
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"`regie demo` did not answer /healthz within {SERVER_START_TIMEOUT:.0f} s:\n"
                + server.log_tail(),
                pytrace=False,
            )
        time.sleep(0.2)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, _chromium_available: None
) -> Iterator[DemoServer]:
    """``regie demo`` on a free port with its own SQLite file, for the whole session."""
    tmp = tmp_path_factory.mktemp("demo")
    for _attempt in range(3):  # a free port can be taken before the server binds it
        proc, server = _start_demo(tmp)
        try:
            if _wait_healthy(proc, server):
                yield server
                return
        finally:
            _stop(proc)
    pytest.fail(f"`regie demo` exited with {proc.returncode}:\n{server.log_tail()}", pytrace=False)
