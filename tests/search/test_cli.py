"""`deploytrace artifact search` on both backends: JSON, tables for people, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.cli.embedded import AsgiTransport
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.search.helpers import (
    LOG4J,
    LOG4SHELL,
    cosign_vuln,
    log4j_sbom,
    log4shell_scan,
    trivy_report,
)
from tests.support.cli import RECORD, CliRunner
from tests.support.digests import digest

VULNERABLE = digest("vulnerable")
FIXED = digest("fixed")


@pytest.fixture
def dt_cli(db: Database, cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI, its in-process API over the parametrized backend (SQLite or PostgreSQL)."""
    app = create_app(Runtime(db=db, settings=Settings(), local_actor=tenancy.local_actor(db)))
    monkeypatch.setattr(
        "deploytrace.cli.embedded.embedded_transport", lambda _settings: AsgiTransport(lambda: app)
    )
    return cli


def _push(cli: CliRunner, tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    r = cli("attestation", "push", str(path))
    assert r.code == 0, r.err


def _record(cli: CliRunner, d: str) -> None:
    r = cli(*RECORD, "--kind", "CONTAINER_IMAGE", "--digest", d, "-o", "json")
    assert r.code == 0, r.err


def test_log4shell_where_it_runs(dt_cli: CliRunner, tmp_path: Path) -> None:
    cli = dt_cli
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    _push(cli, tmp_path, "sbom.json", log4j_sbom("2.14.1", VULNERABLE))
    _push(cli, tmp_path, "fixed.json", log4j_sbom("2.17.1", FIXED))
    _push(cli, tmp_path, "scan.json", log4shell_scan(VULNERABLE))
    _record(cli, VULNERABLE)
    r = cli("artifact", "search", "--cve", LOG4SHELL, "-o", "json")
    assert r.code == 0, r.err
    [hit] = r.json()
    assert hit["artifact"]["digest"] == VULNERABLE
    assert [(rec["environment"], rec["logical_environment"]) for rec in hit["records"]] == [
        ("k8s-east", "production")
    ]
    r = cli("artifact", "search", "--purl", LOG4J, "--version-range", "vers:maven/>=2.0.0|<2.15.0")
    assert r.code == 0, r.err
    assert "k8s-east/production/api-server" in r.out and "ghcr.io/acme/app" in r.out
    _record(cli, FIXED)
    r = cli("artifact", "search", "--cve", LOG4SHELL, "-o", "json")
    assert r.code == 0 and r.json() == []
    r = cli("artifact", "search", "--cve", LOG4SHELL)
    assert r.code == 0 and "no matching artifacts" in r.err
    history = cli("artifact", "search", "--cve", LOG4SHELL, "--history", "-o", "json").json()
    assert [rec["status"] for rec in history[0]["records"]] == ["superseded"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--purl", "pkg:maven"], "invalid purl 'pkg:maven': purl is missing the required type"),
        (["--purl", LOG4J, "--version-range", "vers:maven/>=2.0.0|<"], "Empty version"),
        (["--purl", LOG4J, "--version-range", "maven/>=2"], "must start with the 'vers:'"),
        (["--cve", LOG4SHELL, "--at", "last tuesday"], "invalid time"),
        ([], "search for something"),
    ],
)
def test_malformed_queries_exit_7_with_the_parse_error(
    cli: CliRunner, args: list[str], message: str
) -> None:
    r = cli("artifact", "search", *args)
    assert r.code == 7, (r.out, r.err)
    assert r.err.startswith("error: ") and message in r.err
    assert "Traceback" not in r.err


def test_table_escapes_what_scans_say(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    report = trivy_report((LOG4SHELL, LOG4J, "2.14.1", "CRITICAL"))
    vuln = report["Results"][0]["Vulnerabilities"][0]
    del vuln["PkgIdentifier"]
    vuln["PkgName"] = "evil\x1b[31m[bold]pkg"
    _push(cli, tmp_path, "scan.json", cosign_vuln(report, VULNERABLE))
    _record(cli, VULNERABLE)
    r = cli("artifact", "search", "--cve", LOG4SHELL)
    assert r.code == 0, r.err
    assert "\x1b" not in r.out
    assert "CVE-2021-44228 in evil\\x1b[31m[bold]pkg@2.14.1" in r.out
    [hit] = cli("artifact", "search", "--cve", LOG4SHELL, "-o", "json").json()
    assert hit["matches"][0]["name"] == "evil\x1b[31m[bold]pkg"  # JSON keeps the data as it is
