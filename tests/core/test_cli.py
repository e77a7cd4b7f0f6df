"""The CLI in embedded mode: seed commands and flags, output formats, exit codes of SPEC §5."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import RECORD as BASE_RECORD
from tests.support.cli import CliRunner, attest
from tests.support.digests import digest

D1 = digest("v1.0.0")
D2 = digest("v1.1.0")
RECORD = [*BASE_RECORD, "--kind", "CONTAINER_IMAGE"]


@pytest.fixture
def ready(cli: CliRunner, tmp_path: Path) -> CliRunner:
    r = cli("environment", "create", "--name", "k8s-east", "--description", "Kubernetes US-East")
    assert r.code == 0
    attest(cli, tmp_path, D1, D2, *(digest(i) for i in range(3)))
    return cli


def test_seed_typical_workflow_embedded(cli: CliRunner, tmp_path: Path) -> None:
    # 0. the build attested both versions
    attest(cli, tmp_path, D1)
    attest(cli, tmp_path, D2)
    # 1. environments (logical ones exist already)
    for name, text in [("k8s-east", "Kubernetes US-East"), ("k8s-west", "Kubernetes US-West")]:
        r = cli("environment", "create", "--name", name, "--description", text)
        assert r.code == 0, r.err
    logical = cli("logical-environment", "list", "-o", "json").json()
    assert [e["name"] for e in logical] == ["development", "production", "staging"]
    base = [
        "deployment",
        "record",
        "--env",
        "k8s-east",
        "--deployment-name",
        "api-server",
        "--kind",
        "CONTAINER_IMAGE",
    ]
    # 2. deploy to staging
    staged = cli(*base, "--logical-env", "staging", "--digest", D1, "-o", "json")
    assert staged.code == 0, staged.err
    assert staged.json()["action"] == "created"
    # 3. promote to production
    promoted = cli(*base, "--logical-env", "production", "--digest", D1, "-o", "json").json()
    assert promoted["action"] == "created"
    # 4. a new version supersedes v1.0.0
    newer = cli(*base, "--logical-env", "production", "--digest", D2, "-o", "json").json()
    assert newer["action"] == "superseded_previous"
    # 5. what's running in production
    running = cli("deployment", "list", "--logical-env", "production", "-o", "json").json()
    assert [r["artifact"]["digest"] for r in running] == [D2]
    # 6. history
    history = cli(
        "deployment",
        "list",
        "--env",
        "k8s-east",
        "--logical-env",
        "production",
        "--history",
        "-o",
        "json",
    ).json()
    assert [(h["artifact"]["digest"], h["status"]) for h in history] == [
        (D2, "deployed"),
        (D1, "superseded"),
    ]
    assert history[1]["superseded_by"] == history[0]["id"]
    table = cli(
        "deployment", "list", "--env", "k8s-east", "--logical-env", "production", "--history"
    )
    assert table.code == 0
    assert "superseded" in table.out and "deployed" in table.out


def test_record_json_shape(ready: CliRunner) -> None:
    rec = ready(
        *RECORD,
        "--digest",
        D1,
        "--artifact-name",
        "ghcr.io/my-org/api-server",
        "--artifact-version",
        "v1.0.0",
        "-o",
        "json",
    ).json()
    assert set(rec) == {
        "id",
        "environment",
        "logical_environment",
        "deployment_name",
        "kind",
        "artifact",
        "status",
        "created_at",
        "updated_at",
        "last_seen_at",
        "ended_at",
        "superseded_by",
        "ended_reason",
        "stale",
        "heartbeats",
        "scope",
        "reported_by",
        "promotion",
        "policy",
        "action",
        "previous",
    }
    assert rec["artifact"] == {
        "digest": D1,
        "name": "ghcr.io/my-org/api-server",
        "version": "v1.0.0",
    }
    described = ready("deployment", "describe", rec["id"], "-o", "json").json()
    assert described["id"] == rec["id"]


def test_global_options_before_the_command(ready: CliRunner) -> None:
    r = ready("-o", "json", "environment", "list")
    assert r.code == 0
    assert json.loads(r.out)[0]["name"] == "k8s-east"


def test_heartbeat_and_decommission(ready: CliRunner) -> None:
    ready(*RECORD, "--digest", D1)
    beat = ready(*RECORD, "--digest", D1, "-o", "json").json()
    assert beat["action"] == "heartbeat"
    done = ready(*RECORD, "--digest", D1, "--status", "decommissioned", "-o", "json").json()
    assert done["action"] == "decommissioned"
    again = ready(*RECORD, "--digest", D1, "--status", "decommissioned", "-o", "json").json()
    assert again["action"] == "unchanged"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["deployment", "record"], 2),  # missing required flags
        ([*RECORD], 2),  # neither --oci-ref nor --digest
        ([*RECORD, "--digest", D1, "--oci-ref", "nginx"], 2),  # both
        (["deployment", "list", "--bogus"], 2),
        (["environment", "create"], 2),  # no name
        (["no-such-command"], 2),
        ([*RECORD, "--digest", "sha256:nope"], 7),
        ([*RECORD, "--digest", D1, "--kind", "IMAGE"], 7),
        (["environment", "create", "--name", "Bad_Name"], 7),
        ([*RECORD[:3], "nowhere", *RECORD[4:], "--digest", D1], 3),
        (["deployment", "describe", "0000"], 3),
        (["environment", "describe", "--name", "nope"], 3),
        (["environment", "create", "--name", "k8s-east"], 4),
        (["--server", "http://127.0.0.1:9", "environment", "list"], 6),
    ],
)
def test_exit_codes(ready: CliRunner, args: list[str], code: int) -> None:
    r = ready(*args)
    assert r.code == code, (r.out, r.err)
    assert r.err.startswith("error: ")
    assert len(r.err.strip().splitlines()) == 1, r.err
    assert "Traceback" not in r.err


def test_conflict_exit_code(ready: CliRunner) -> None:
    ready(*RECORD, "--digest", D1)
    r = ready(*RECORD, "--digest", D2, "--status", "decommissioned")
    assert r.code == 4
    assert r.err.startswith("error: cannot decommission")


def test_unauthenticated_exit_code(ready: CliRunner) -> None:
    # A server that refuses the token; the embedded API itself has no login.
    from tests.support.server import running_server

    with running_server() as server:
        r = ready("--server", server.url, "--token", "dt_bogus", "environment", "list")
    assert r.code == 5
    assert r.err.startswith("error: ")


def test_tables_fit_80_columns(ready: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    ready("environment", "create", "--name", "a-rather-long-environment-name-for-tables")
    for i in range(3):
        ready(
            *RECORD, "--digest", digest(i), "--artifact-version", f"v{i}.0.0-very-long-version-tag"
        )
    for args in (
        ["deployment", "list", "--history"],
        ["environment", "list"],
        ["logical-environment", "list"],
    ):
        out = ready(*args).out
        assert out
        assert all(len(line) <= 80 for line in out.splitlines()), out


def test_list_json_is_an_array(ready: CliRunner) -> None:
    assert ready("deployment", "list", "-o", "json").json() == []
    assert isinstance(ready("environment", "list", "-o", "json").json(), list)


def test_environment_update_and_delete(ready: CliRunner) -> None:
    r = ready("environment", "update", "--name", "k8s-east", "--description", "new", "-o", "json")
    assert r.json()["description"] == "new"
    assert ready("environment", "delete", "k8s-east").code == 0
    assert ready("environment", "describe", "k8s-east").code == 3


def test_embedded_database_is_created_under_home(cli: CliRunner, tmp_path: object) -> None:
    import os
    from pathlib import Path

    home = Path(os.environ["DEPLOYTRACE_HOME"])
    assert not (home / "deploytrace.db").exists()
    assert cli("environment", "list").code == 0
    assert (home / "deploytrace.db").exists()
