"""`token` and `audit` commands: against a server with role tokens, and embedded."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from deploytrace.services import tenancy
from deploytrace.storage.db import Database
from tests.support.cli import CliRunner
from tests.support.server import running_server


def test_tokens_and_roles_against_a_server(cli: CliRunner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    with running_server(url) as server:
        _, admin = tenancy.bootstrap(Database(url), "acme")
        base = ["--server", server.url]
        created = cli(
            *base,
            "--token",
            admin,
            "token",
            "create",
            "--name",
            "ci",
            "--role",
            "writer",
            "--expires-in",
            "30d",
            "-o",
            "json",
        )
        assert created.code == 0, created.err
        writer = created.json()["token"]
        table = cli(*base, "--token", admin, "token", "create", "--name", "ro", "--role", "viewer")
        assert table.code == 0 and "dt_" in table.out
        listed = cli(*base, "--token", admin, "token", "list", "-o", "json").json()
        assert {t["name"] for t in listed} >= {"ci", "ro"}
        assert writer not in cli(*base, "--token", admin, "token", "list").out
        # A CI token records but does not administer: exit 5.
        assert cli(*base, "--token", writer, "environment", "create", "--name", "x").code == 5
        assert cli(*base, "--token", writer, "token", "list").code == 5
        assert cli(*base, "--token", writer, "deployment", "list").code == 0
        # Revoked: refused at once.
        assert cli(*base, "--token", admin, "token", "revoke", "ci").code == 0
        refused = cli(*base, "--token", writer, "deployment", "list")
        assert refused.code == 5 and "revoked" in refused.err
        assert cli(*base, "--token", admin, "token", "revoke", "ci").code == 3
        # The audit log answers who did what.
        entries = cli(*base, "--token", admin, "audit", "list", "-o", "json").json()
        assert [e["action"] for e in entries[:2]] == ["token.revoked", "token.created"]
        assert cli(*base, "--token", admin, "audit", "verify").code == 0
        assert "token.revoked" in cli(*base, "--token", admin, "audit", "list").out


def test_audit_verify_embedded_detects_an_edit(cli: CliRunner) -> None:
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    assert cli("environment", "update", "--name", "k8s-east", "--description", "x").code == 0
    ok = cli("audit", "verify")
    assert ok.code == 0 and "intact" in ok.out
    path = Path(os.environ["DEPLOYTRACE_HOME"]) / "deploytrace.db"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE audit_entries SET target = 'environment/other' WHERE position = 2")
    # The daily verify starts at the checkpoint the first one left (after entry 3):
    # an old entry edited without recomputing the hashes after it takes --full.
    daily = cli("audit", "verify")
    assert daily.code == 0 and "checked from entry 4" in daily.out
    broken = cli("audit", "verify", "--full")
    assert broken.code == 1
    assert broken.err.startswith("error: audit log broken at entry 2")
    verdict = cli("audit", "verify", "--full", "-o", "json")
    assert verdict.code == 1 and verdict.json()["first_broken"] == 2


@pytest.mark.parametrize("value", ["0s", "forever", "-1d"])
def test_bad_expiry_is_exit_7(cli: CliRunner, value: str) -> None:
    r = cli("token", "create", "--name", "x", "--role", "viewer", "--expires-in", value)
    assert r.code == 7
