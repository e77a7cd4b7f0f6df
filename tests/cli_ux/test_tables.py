"""Tables at 80 columns, short ids that paste back, and colour only where a person looks."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from deploytrace.cli.output import cell_width
from tests.cli_ux.conftest import RECORD, V1, V2, Seeded
from tests.support.cli import attest
from tests.support.digests import digest

SGR = re.compile(r"\x1b\[[0-9;]*m")


def _header(out: str) -> list[str]:
    return out.splitlines()[0].split("  ")


def _titles(out: str) -> list[str]:
    return [t.strip() for t in _header(out) if t.strip()]


def test_history_at_80_columns_keeps_what_matters(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = seeded.cli("deployment", "list", "--history").out
    assert all(len(line) <= 80 for line in out.splitlines()), out
    titles = _titles(out)
    for kept in ("DEPLOYMENT", "VERSION", "STATUS", "ENV", "LOGICAL ENV"):
        assert kept in titles, out
    # NOTES (every cell "-") and KIND (the least useful) go first.
    assert "NOTES" not in titles and "KIND" not in titles
    assert "superseded" in out and "v1.0.0" in out and "v1.1.0" in out


def test_a_filtered_column_goes_before_useful_ones(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    args = ["deployment", "list", "--history", "--env", "k8s-east", "--logical-env", "production"]
    out = seeded.cli(*args).out
    titles = _titles(out)
    # The filter says where: ENV and LOGICAL ENV give way to when it ran and ended.
    assert "ENV" not in titles and "LOGICAL ENV" not in titles, out
    for kept in ("DEPLOYMENT", "VERSION", "STATUS", "DEPLOYED", "ENDED"):
        assert kept in titles, out
    wide = seeded.cli(*args, "-o", "json")
    assert len(wide.json()) == 2


def test_wide_terminals_show_every_column(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    titles = _titles(seeded.cli("deployment", "list", "--history").out)
    assert titles == [
        "ID",
        "ENV",
        "LOGICAL ENV",
        "DEPLOYMENT",
        "KIND",
        "VERSION",
        "DIGEST",
        "STATUS",
        "DEPLOYED",
        "ENDED",
        "NOTES",
    ]


def test_every_table_fits_80_columns(
    seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = seeded.cli
    monkeypatch.setenv("COLUMNS", "80")
    long = "a-rather-long-environment-name-that-fills-a-good-part-of-a-line"
    assert cli("environment", "create", long, "--description", "名前 " * 20).code == 0
    attest(cli, tmp_path, *(digest(i) for i in range(3)))
    for i in range(3):
        version = f"v{i}.0.0-rc.1+build.{'0' * 30}"
        r = cli(
            *RECORD, "--logical-env", "development", "--digest", digest(i),
            "--artifact-version", version, "--artifact-name", "registry.example.com/" + "x" * 60,
        )  # fmt: skip
        assert r.code == 0, r.err
    inventory = tmp_path / "inventory.json"
    workload = {"deployment_name": "w" * 60, "kind": "CONTAINER_IMAGE", "digest": digest("nope")}
    inventory.write_text(json.dumps({"deployments": [workload]}))
    sync = ["deployment", "sync", "--env", long, "--logical-env", "staging", "--from"]
    assert cli(*sync, str(inventory)).code == 0
    policy = Path(__file__).parents[2] / "examples" / "policies" / "promotion.yaml"
    assert cli("policy", "add", str(policy)).code == 0
    assert cli("policy", "attach", "promotion", "--logical-env", "staging", "--env", long).code == 0
    assert cli("token", "create", "--name", "ci-" + "t" * 50, "--role", "writer").code == 0
    for args in (
        ["deployment", "list"],
        ["deployment", "list", "--history"],
        ["deployment", "list", "--unattested"],
        ["environment", "list"],
        ["logical-environment", "list"],
        ["attestation", "list"],
        ["artifact", "describe", digest(1)],
        ["trust", "list"],
        ["policy", "list"],
        ["token", "list"],
        ["audit", "list"],
    ):
        r = cli(*args)
        assert r.code == 0, (args, r.err)
        assert r.out, args
        out = r.out
        if args[0] == "artifact":  # its tables follow `key  value` lines with whole digests
            out = out.split("\n\n", 1)[1]
        # East Asian wide characters take two columns each.
        assert all(cell_width(line) <= 80 for line in out.splitlines()), (args, r.out)


def test_short_ids_tell_records_apart_and_paste_back(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    cli = seeded.cli
    records = cli("deployment", "list", "--history", "-o", "json").json()
    table = cli("deployment", "list", "--history").out.splitlines()[2:]
    shown = [line.split()[0] for line in table]
    # Made within seconds, the UUIDv7 ids share their first 8 digits: 8 would not do.
    assert len(set(shown)) == len(records) == 3
    for short, record in zip(shown, records, strict=True):
        assert record["id"].startswith(short)
        assert len(short.replace("-", "")) >= 8
        described = cli("deployment", "describe", short, "-o", "json")
        assert described.code == 0, described.err
        assert described.json()["id"] == record["id"]


def _run_in_terminal(home: Path, *args: str, **env: str) -> str:
    """The installed CLI on a real pseudo-terminal of 80x24, as a person runs it."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    environ.update({"DEPLOYTRACE_HOME": str(home), "TERM": "xterm-256color", **env})
    process = subprocess.Popen(
        [sys.executable, "-m", "deploytrace", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environ,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(60) == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_statuses_are_coloured_on_a_terminal_that_fits_80_columns(seeded: Seeded) -> None:
    out = _run_in_terminal(seeded.home, "deployment", "list", "--history")
    assert "\x1b[32mdeployed\x1b[0m" in out  # green
    assert "\x1b[2msuperseded\x1b[0m" in out  # dim
    # The width came from the terminal itself (no COLUMNS): every line fits 80.
    assert all(len(SGR.sub("", line)) <= 80 for line in out.splitlines()), out
    plain = SGR.sub("", out)
    assert "superseded" in plain and "v1.1.0" in plain
    described = _run_in_terminal(seeded.home, "deployment", "describe", _latest(seeded))
    assert "\x1b[32mdeployed\x1b[0m" in described


def _latest(seeded: Seeded) -> str:
    records = seeded.cli("deployment", "list", "-o", "json").json()
    return str(records[0]["id"])


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["deployment", "list", "--history"], {"NO_COLOR": "1"}),
        (["deployment", "list", "--history"], {"TERM": "dumb"}),
        (["deployment", "list", "--history", "-o", "json"], {}),
        (["deployment", "describe", "LATEST", "-o", "json"], {}),
    ],
)
def test_no_colour_when_asked_or_for_machines(
    seeded: Seeded, args: list[str], env: dict[str, str]
) -> None:
    args = [_latest(seeded) if a == "LATEST" else a for a in args]
    out = _run_in_terminal(seeded.home, *args, **env)
    assert "\x1b" not in out
    assert "deployed" in out


def test_no_colour_in_a_pipe(seeded: Seeded) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environ.update({"DEPLOYTRACE_HOME": str(seeded.home), "TERM": "xterm-256color"})
    environ.pop("COLUMNS", None)
    piped = subprocess.run(
        [sys.executable, "-m", "deploytrace", "deployment", "list", "--history"],
        capture_output=True,
        text=True,
        env=environ,
        check=True,
    )
    assert "\x1b" not in piped.stdout
    # A pipe has no width: nothing is dropped, so grep sees every column.
    assert "CONTAINER_IMAGE" in piped.stdout and "NOTES" in piped.stdout


def test_record_and_history_after_decommission(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    cli = seeded.cli
    done = cli(*RECORD, "--logical-env", "staging", "--digest", V1, "--status", "decommissioned")
    assert done.code == 0, done.err
    assert done.out.splitlines()[0] == "api-server: v1.0.0 decommissioned from k8s-east/staging"
    history = cli("deployment", "list", "--history", "--logical-env", "staging").out
    assert "decommissioned" in history
    production = cli("deployment", "list", "--logical-env", "production", "-o", "json").json()
    assert [r["artifact"]["digest"] for r in production] == [V2]
