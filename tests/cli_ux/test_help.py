"""A command group run alone shows its help: asking what there is is not a mistake."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.cli import CliRunner

GROUPS = [
    "environment",
    "logical-environment",
    "deployment",
    "attestation",
    "artifact",
    "trust",
    "policy",
    "token",
    "audit",
    "admin",
    "db",
]


def test_deploytrace_alone_prints_its_help(cli: CliRunner) -> None:
    r = cli()
    assert r.code == 0
    assert r.err == ""
    assert r.out.startswith("Usage: deploytrace [OPTIONS] COMMAND")
    assert "deployment" in r.out and "Record and list what runs where." in r.out


@pytest.mark.parametrize("group", GROUPS)
def test_a_group_alone_prints_its_help(cli: CliRunner, group: str) -> None:
    r = cli(group)
    assert (r.code, r.err) == (0, "")
    assert r.out.startswith(f"Usage: deploytrace {group} [OPTIONS] COMMAND")
    assert "Commands:" in r.out
    assert r.out == cli(group, "--help").out


def test_the_installed_command_alone(cli: CliRunner) -> None:
    command = [sys.executable, "-m", "deploytrace", "deployment"]
    run = subprocess.run(command, capture_output=True, text=True, check=False)
    assert run.returncode == 0
    assert run.stderr == ""
    assert "record" in run.stdout and "list" in run.stdout


@pytest.mark.parametrize(
    "args", [["no-such-command"], ["deployment", "no-such-command"], ["deployment", "--bogus"]]
)
def test_mistakes_are_still_usage_errors(cli: CliRunner, args: list[str]) -> None:
    r = cli(*args)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith("error: ") and len(r.err.splitlines()) == 1
