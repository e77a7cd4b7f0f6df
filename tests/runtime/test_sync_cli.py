"""`deployment sync` end to end, embedded: a real cluster's pod list becomes records."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import CliRunner, attest

DATA = Path(__file__).resolve().parent.parent / "data" / "kubernetes"
K3S = DATA / "troubleshoot-k3s-kube-system.json"

EXPECTED = {
    "kube-system.coredns.coredns": "sha256:"
    "1391544c978029fcddc65068f6ad67f396e55585b664ecccd7fefba029b9b706",
    "kube-system.metrics-server.metrics-server": "sha256:"
    "89258156d0e9af60403eafd44da9676fd66f600c7934d468ccc17e42b199aee2",
    "kube-system.traefik.traefik": "sha256:"
    "9595fc80fa8ed6c5f3876416332ca7c88e8f255daaf265cff6b857b8d0f44503",
}
# Attested are three of the cluster's workloads; the others run without evidence.


def _sync(cli: CliRunner, path: Path, *extra: str) -> dict[str, object]:
    args = ["deployment", "sync", "--env", "k3s", "--logical-env", "production"]
    r = cli(*args, "--from", str(path), "-o", "json", *extra)
    assert r.code == 0, r.err
    return dict(r.json())


def test_a_real_pod_list_syncs_into_records(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("environment", "create", "--name", "k3s").code == 0
    attest(cli, tmp_path, *EXPECTED.values())
    out = _sync(cli, K3S)
    created = {r["deployment_name"]: r["artifact"]["digest"] for r in out["created"]}  # type: ignore[union-attr]
    assert created == EXPECTED
    names = {u["deployment_name"] for u in out["unattested"]}  # type: ignore[union-attr]
    assert "kube-system.local-path-provisioner.local-path-provisioner" in names
    listed = cli("deployment", "list", "--env", "k3s", "-o", "json").json()
    assert {i["deployment_name"]: i["artifact"]["digest"] for i in listed} == EXPECTED
    assert all(i["scope"] == "default" for i in listed)
    unattested = cli("deployment", "list", "--unattested", "-o", "json").json()
    assert {u["deployment_name"] for u in unattested} == names
    shown = cli("environment", "describe", "k3s").out
    assert "running without evidence" in shown

    # The same list again: heartbeats only.
    again = _sync(cli, K3S)
    assert again["created"] == [] and again["decommissioned"] == []
    assert again["heartbeats"] == len(EXPECTED)

    # coredns scaled away: its record is decommissioned as absent.
    doc = json.loads(K3S.read_text())
    doc["items"] = [p for p in doc["items"] if not p["metadata"]["name"].startswith("coredns-")]
    smaller = tmp_path / "without-coredns.json"
    smaller.write_text(json.dumps(doc))
    gone = _sync(cli, smaller)
    assert [(r["deployment_name"], r["ended_reason"]) for r in gone["decommissioned"]] == [  # type: ignore[union-attr]
        ("kube-system.coredns.coredns", "absent")
    ]
    table = cli(
        "deployment", "sync", "--env", "k3s", "--logical-env", "production", "--from", str(smaller)
    )
    assert table.code == 0, table.err


def test_dry_run_from_stdin(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("environment", "create", "--name", "k3s").code == 0
    attest(cli, tmp_path, *EXPECTED.values())
    r = cli(
        "deployment",
        "sync",
        "--env",
        "k3s",
        "--logical-env",
        "production",
        "--from",
        "-",
        "--dry-run",
        "-o",
        "json",
        stdin=K3S.read_text(),
    )
    assert r.code == 0, r.err
    assert len(r.json()["created"]) == len(EXPECTED)
    assert cli("deployment", "list", "-o", "json").json() == []


def test_unknown_environment_exits_3(cli: CliRunner) -> None:
    r = cli("deployment", "sync", "--env", "k3z", "--logical-env", "production", "--from", str(K3S))
    assert r.code == 3
