"""`deploytrace ui`: the dashboard on the embedded database, run as a real process, data
recorded with the embedded CLI, and its one-time sign-in link opened in Chromium."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploytrace.errors import Unauthenticated
from deploytrace.services import tenancy
from deploytrace.storage.db import Database
from tests.dashboard.conftest import Dashboard, Served, watched_page
from tests.support.digests import digest
from tests.support.statements import statement

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with the reason
    expect = None  # type: ignore[assignment]

LINK = re.compile(r"(http://127\.0\.0\.1:(\d+)/)#/sign-in\?code=([A-Za-z0-9_-]+)")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYTRACE_")}
    env["DEPLOYTRACE_HOME"] = str(home)
    return env


def _cli(home: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "deploytrace", *args],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@dataclass
class UiProcess:
    process: subprocess.Popen[str]
    home: Path
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def wait_for_link(self, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                found = LINK.search(line)
                if found:
                    return found
            if self.process.poll() is not None:
                raise AssertionError(f"ui exited: {self.lines} {self.errors}")
            time.sleep(0.05)
        raise TimeoutError(f"no sign-in link: {self.lines} {self.errors}")

    def output(self) -> str:
        return "\n".join(self.lines + self.errors)


def _start_ui(home: Path, *args: str) -> UiProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", "deploytrace", "ui", "--no-browser", *args],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    ui = UiProcess(process, home)

    def pump(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    threading.Thread(target=pump, args=(process.stdout, ui.lines), daemon=True).start()
    threading.Thread(target=pump, args=(process.stderr, ui.errors), daemon=True).start()
    return ui


def _stop(ui: UiProcess) -> int:
    if ui.process.poll() is None:
        ui.process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            return ui.process.wait(30)
        except subprocess.TimeoutExpired:
            ui.process.kill()
            ui.process.wait()
            raise
    return ui.process.returncode


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An embedded home with data recorded through the CLI, as a user would."""
    home = tmp_path / "home"
    artifact = digest("ui-api")
    attestation = tmp_path / "api.intoto.json"
    attestation.write_bytes(statement(artifact, name="ghcr.io/acme/api"))
    _cli(home, "environment", "create", "--name", "laptop")
    _cli(home, "attestation", "push", str(attestation))
    _cli(
        home,
        "deployment",
        "record",
        "--env",
        "laptop",
        "--logical-env",
        "staging",
        "--deployment-name",
        "api",
        "--kind",
        "CONTAINER_IMAGE",
        "--digest",
        artifact,
        "--artifact-version",
        "v2.0.0",
    )
    return home


@pytest.fixture
def ui(home: Path) -> Iterator[UiProcess]:
    started = _start_ui(home)
    try:
        yield started
    finally:
        _stop(started)


def _tokens(home: Path) -> list[tenancy.TokenInfo]:
    db = Database(f"sqlite:///{home / 'deploytrace.db'}")
    try:
        return tenancy.list_tokens(db, tenancy.local_actor(db), include_revoked=True)
    finally:
        db.dispose()


def test_ui_signs_in_once_through_its_link(
    browser: Any, ui: UiProcess, home: Path, shoot: Any
) -> None:
    found = ui.wait_for_link()
    url, port, code = found.group(1), int(found.group(2)), found.group(3)
    link = found.group(0)
    served = Served(url.rstrip("/"), token="", server=None, data=None)  # type: ignore[arg-type]
    with watched_page(browser, served) as dashboard:
        page = dashboard.page
        page.goto(link)
        expect(page.get_by_role("heading", level=1)).to_have_text("What runs where")
        cell = page.locator('td[data-slot="laptop/staging/api/CONTAINER_IMAGE"] .slot-version')
        expect(cell).to_have_text("v2.0.0")
        # The code left the address bar (and the history) at once; the token is in the tab.
        assert code not in page.url
        assert page.url.endswith("/#/")
        token = page.evaluate("sessionStorage.getItem('deploytrace.token')")
        assert token and token.startswith("dt_")
        shoot(page, "ui-signed-in")
        # The page navigates like any signed-in dashboard.
        dashboard.go("#/history")
        expect(page.locator("table.records tbody tr")).to_have_count(1)

    # The token is a short-lived viewer token of the embedded organization.
    minted = [t for t in _tokens(home) if t.name.startswith("ui-")]
    assert len(minted) == 1
    assert minted[0].role == "viewer"
    assert minted[0].expires_at is not None
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("v1/deployments").status_code == 200
        refused = client.post("v1/environments", json={"name": "nope"})
        assert refused.status_code == 403

    # A used link is dead: the sign-in form says why.
    with watched_page(browser, served) as dashboard:
        dashboard.watch.allowed_statuses.add(401)
        page = dashboard.page
        page.goto(link)
        expect(page.get_by_role("alert")).to_contain_text("already used or has expired")
        expect(page.get_by_label("API token")).to_be_visible()
        assert code not in page.url

    # It listens on loopback only, and never wrote the token or the code to its output.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) == 0
    assert token not in ui.output()
    assert ui.output().count(code) == 1  # the printed link, nothing else

    # Ctrl-C stops it, exit 0, and the browser's token is revoked.
    assert _stop(ui) == 0
    assert "token is revoked" in ui.output()
    db = Database(f"sqlite:///{home / 'deploytrace.db'}")
    try:
        with pytest.raises(Unauthenticated, match="revoked"):
            tenancy.authenticate(db, f"Bearer {token}")
    finally:
        db.dispose()


def test_ui_code_exchange_refuses_bad_codes(ui: UiProcess) -> None:
    found = ui.wait_for_link()
    url = found.group(1)
    with httpx.Client(base_url=url, timeout=30) as client:
        for body in ({"code": "not-the-code"}, {"code": ""}, {"token": "x"}, {}):
            r = client.post("ui/sign-in", json=body)
            assert r.status_code in (401, 422), (body, r.text)
            assert "token" not in r.json()
        r = client.post("ui/sign-in", json={"code": found.group(3)})
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"
        assert r.json()["token"].startswith("dt_")
        again = client.post("ui/sign-in", json={"code": found.group(3)})
        assert again.status_code == 401
        # Without a token the API answers nothing, as on any server.
        assert client.get("v1/deployments").status_code == 401


def test_ui_on_a_given_port_and_json_output(home: Path) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    started = _start_ui(home, "--port", str(port), "-o", "json")
    try:
        deadline = time.monotonic() + 60
        while "}" not in started.lines and time.monotonic() < deadline:
            assert started.process.poll() is None, started.output()
            time.sleep(0.05)
        printed = json.loads("\n".join(started.lines))
        assert printed["url"] == f"http://127.0.0.1:{port}/"
        assert printed["sign_in_url"].startswith(f"http://127.0.0.1:{port}/#/sign-in?code=")
        assert printed["database"].endswith("deploytrace.db")

        # The port is taken now: a second ui on it says so and exits 1.
        busy = subprocess.run(
            [sys.executable, "-m", "deploytrace", "ui", "--no-browser", "--port", str(port)],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert busy.returncode == 1
        assert f"error: cannot listen on 127.0.0.1:{port}" in busy.stderr
        assert "Traceback" not in busy.stderr
    finally:
        assert _stop(started) == 0
    # Both tokens it minted are revoked (the refused one never served).
    assert all(t.revoked_at is not None for t in _tokens(home) if t.name.startswith("ui-"))


def test_a_regular_server_has_no_sign_in_exchange(dashboard: Dashboard) -> None:
    r = httpx.post(f"{dashboard.served.url}/ui/sign-in", json={"code": "x"})
    assert r.status_code in (404, 405)
