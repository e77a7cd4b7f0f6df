"""Browser tests of the dashboard: the real `deploytrace server`, data put in through the
HTTP API, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploytrace.services import tenancy
from deploytrace.storage.db import Database
from tests.conftest import missing_service
from tests.dashboard.seed import Seeded, seed
from tests.support.server import ServerProcess, start_server

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
# Playwright waits this long (ms) for a locator; everything here is local and small.
TIMEOUT_MS = 5000

pytestmark = pytest.mark.browser


# Endpoints of other parts of round 2 that a server may not have yet: the dashboard shows
# "not available" for them, and their 404 is no error of the page.
OPTIONAL_ENDPOINTS = re.compile(
    r"/v1/(diff|metrics/dora|search)\b|/v1/artifacts/[^/?]+/(components|findings)"
)


@dataclass
class Served:
    url: str
    token: str
    server: ServerProcess
    data: Seeded

    def has(self, path: str, **params: str) -> bool:
        """Whether the server answers `path` (a 404 "Not Found" means it has no such route)."""
        r = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )
        return not (r.status_code == 404 and r.json()["error"]["message"] == "Not Found")


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'dashboard.db'}"
    server = start_server(database_url)  # migrates the database before it serves
    try:
        db = Database(database_url)
        _, token = tenancy.bootstrap(db, "acme")
        db.dispose()
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            data = seed(client)
        yield Served(server.url, token, server, data)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        missing_service(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("the playwright Python package")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """Everything the page did that a clean run must not do."""

    console_errors: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_responses: list[tuple[int, str]] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    # HTTP error statuses a test provokes on purpose (e.g. a bad token's 401).
    allowed_statuses: set[int] = field(default_factory=set)

    def problems(self) -> list[str]:
        unexpected = [
            (s, u)
            for s, u in self.error_responses
            if s not in self.allowed_statuses and not self._optional(s, u)
        ]
        console = [m for m, url in self.console_errors if not self._provoked(m, url)]
        found = []
        found += [f"console error: {m}" for m in console]
        found += [f"page error: {m}" for m in self.page_errors]
        found += [f"failed request: {m}" for m in self.failed_requests]
        found += [f"HTTP {s}: {u}" for s, u in unexpected]
        found += [f"non-GET API request: {m}" for m in self.writes]
        found += [f"dialog opened: {m}" for m in self.dialogs]
        return found

    def _provoked(self, console_message: str, url: str) -> bool:
        """Chromium logs every 4xx/5xx answer as a console error; the provoked ones are fine."""
        status = re.search(r"responded with a status of (\d+)", console_message)
        if status is None:
            return False
        code = int(status.group(1))
        return code in self.allowed_statuses or self._optional(code, url)

    @staticmethod
    def _optional(status: int, url: str) -> bool:
        return status == 404 and OPTIONAL_ENDPOINTS.search(url) is not None


class Dashboard:
    """A browser page on the dashboard, watched for errors, with the usual steps."""

    def __init__(self, page: Any, served: Served, watch: Watch) -> None:
        self.page = page
        self.served = served
        self.watch = watch
        self.data = served.data

    def open(self, route: str = "#/") -> None:
        self.page.goto(f"{self.served.url}/{route}")

    def sign_in(self, route: str = "#/", token: str | None = None) -> None:
        self.open(route)
        self.page.get_by_label("API token").fill(token or self.served.token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("button", name="Sign out").wait_for()

    def go(self, route: str) -> None:
        """Navigate inside the signed-in page (the token stays in sessionStorage)."""
        self.page.evaluate("route => { location.hash = route; }", route)


@contextlib.contextmanager
def watched_page(browser: Any, served: Served) -> Iterator[Dashboard]:
    """A fresh browser context on `served`, failing the test on anything a clean run must
    not do (console errors, failed requests, writes, dialogs)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    watch = Watch()
    page.on(
        "console",
        lambda m: (
            watch.console_errors.append((m.text, m.location.get("url", "")))
            if m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    page.on("requestfailed", lambda r: watch.failed_requests.append(f"{r.url} {r.failure}"))
    page.on(
        "response",
        lambda r: watch.error_responses.append((r.status, r.url)) if r.status >= 400 else None,
    )
    # The page only reads; its one write is `deploytrace ui`'s sign-in exchange.
    page.on(
        "request",
        lambda r: (
            watch.writes.append(f"{r.method} {r.url}")
            if r.method not in ("GET", "HEAD") and not r.url.endswith("/ui/sign-in")
            else None
        ),
    )

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        yield Dashboard(page, served, watch)
    finally:
        context.close()
    assert watch.problems() == []


@pytest.fixture
def dashboard(browser: Any, served: Served) -> Iterator[Dashboard]:
    with watched_page(browser, served) as page:
        yield page


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Served]:
    """A server of its own, with an org and nothing else: for tests that change data."""
    database_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    server = start_server(database_url)
    try:
        db = Database(database_url)
        _, token = tenancy.bootstrap(db, "acme")
        db.dispose()
        yield Served(server.url, token, server, data=None)  # type: ignore[arg-type]
    finally:
        server.stop()


@pytest.fixture
def fresh_dashboard(browser: Any, fresh: Served) -> Iterator[Dashboard]:
    with watched_page(browser, fresh) as page:
        yield page


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $DEPLOYTRACE_SCREENSHOTS (to look at them), else a temp dir."""
    chosen = os.environ.get("DEPLOYTRACE_SCREENSHOTS")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    return tmp_path_factory.mktemp("screenshots")


_shots: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the screenshots of this run are (they are test artifacts)."""
    if _shots:
        terminalreporter.write_line(f"dashboard screenshots: {_shots[0]}")


@pytest.fixture
def shoot(screenshot_dir: Path) -> Any:
    """page, name → a full-page PNG under the screenshot directory."""

    def take(page: Any, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        # An artifact, not an assertion: a loaded machine may take its time.
        page.screenshot(path=str(path), full_page=True, timeout=60_000)
        if not _shots:
            _shots.append(screenshot_dir)
        return path

    return take
