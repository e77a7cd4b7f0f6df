"""`admin bootstrap` as an operator runs it: the installed console script, in a
subprocess, configured by DEPLOYTRACE_DATABASE_URL, and its token then used through
DEPLOYTRACE_SERVER / DEPLOYTRACE_TOKEN against a real server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from tests.support.server import start_server

pytestmark = pytest.mark.slow

SCRIPT = Path(sys.executable).parent / "deploytrace"


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database nothing has touched: bootstrap must make its schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops' / 'deploytrace.db'}"
        return
    pg: PostgresServer = request.getfixturevalue("pg")
    name = pg.create_database()
    yield pg.url(name)
    pg.drop_database(name)


def _run(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DEPLOYTRACE_") or k == "DEPLOYTRACE_HTTP_TIMEOUT"
    }
    return subprocess.run(
        [str(SCRIPT), *args],
        env={**base, "DEPLOYTRACE_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_console_script_is_installed() -> None:
    assert SCRIPT.is_file() and os.access(SCRIPT, os.X_OK), (
        f"{SCRIPT} missing: install the package (pip install -e .) in this venv"
    )


def test_bootstrap_then_use_the_token_against_a_server(empty_database: str, tmp_path: Path) -> None:
    home = tmp_path / "home"  # must stay unused: everything goes to the database URL
    db_env = {"DEPLOYTRACE_DATABASE_URL": empty_database}

    first = _run("admin", "bootstrap", "--org", "acme", "-o", "json", env=db_env, home=home)
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert set(answer) == {"org", "token"}
    assert answer["org"] == "acme" and answer["token"].startswith("dt_")

    table = _run("admin", "bootstrap", "--org", "acme", env=db_env, home=home)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == "organization: acme"
    second_token = lines[1].split()[-1]
    assert second_token.startswith("dt_") and second_token != answer["token"]
    assert "shown once" in table.stderr

    server = start_server(empty_database)
    try:
        for token in (answer["token"], second_token):
            client_env = {"DEPLOYTRACE_SERVER": server.url, "DEPLOYTRACE_TOKEN": token}
            name = f"k8s-{token[-6:].lower().replace('_', 'x').replace('-', 'y')}"
            made = _run("environment", "create", "--name", name, env=client_env, home=home)
            assert made.returncode == 0, made.stderr
        listed = _run(
            "environment",
            "list",
            "-o",
            "json",
            env={"DEPLOYTRACE_SERVER": server.url, "DEPLOYTRACE_TOKEN": answer["token"]},
            home=home,
        )
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == 2
        wrong = _run(
            "environment",
            "list",
            env={"DEPLOYTRACE_SERVER": server.url, "DEPLOYTRACE_TOKEN": "dt_" + "0" * 32 + "_x"},
            home=home,
        )
        assert wrong.returncode == 5 and wrong.stderr.startswith("error: ")
        audit = _run(
            "audit",
            "list",
            "-o",
            "json",
            env={"DEPLOYTRACE_SERVER": server.url, "DEPLOYTRACE_TOKEN": answer["token"]},
            home=home,
        )
        actions = [e["action"] for e in json.loads(audit.stdout)]
        assert actions.count("token.created") == 2 and "organization.created" in actions
    finally:
        server.stop()
    assert not home.exists(), "bootstrap or the client wrote to DEPLOYTRACE_HOME"


def test_bootstrap_refuses_a_bad_org_name(empty_database: str, tmp_path: Path) -> None:
    r = _run(
        "admin",
        "bootstrap",
        "--org",
        "Not A Label",
        env={"DEPLOYTRACE_DATABASE_URL": empty_database},
        home=tmp_path / "home",
    )
    assert r.returncode == 7 and r.stderr.startswith("error: invalid organization name")
