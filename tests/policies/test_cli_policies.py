"""`deploytrace policy ...` in embedded mode: output, and exit codes 7 and 8."""

from __future__ import annotations

from pathlib import Path

from tests.policies.conftest import EXAMPLES, policy_yaml, rego
from tests.support.cli import CliRunner, attest
from tests.support.digests import digest


def _file(tmp_path: Path, name: str, content: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_the_policy_lifecycle(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("environment", "create", "k8s-east").code == 0
    example = str(EXAMPLES / "sbom-present.yaml")
    r = cli("policy", "add", example)
    assert (r.code, r.out) == (0, "added policy sbom-present version 1\n")
    r = cli("policy", "add", example)
    assert (r.code, r.out) == (0, "policy sbom-present unchanged (version 1)\n")
    r = cli("policy", "attach", "sbom-present", "--logical-env", "production")
    assert (r.code, r.out) == (0, "attached policy sbom-present to production (enforce)\n")
    listed = cli("policy", "list", "-o", "json").json()
    assert [(p["name"], p["version"], p["attachments"][0]["mode"]) for p in listed] == [
        ("sbom-present", 1, "enforce")
    ]
    shown = cli("policy", "describe", "sbom-present")
    assert "production (enforce)" in shown.out
    assert cli("policy", "describe", "sbom-present", "--content").out == Path(example).read_text()

    d = digest("image")
    attest(cli, tmp_path, d)
    refused = cli(
        "policy", "evaluate", "--digest", d, "--kind", "container_image",
        "--env", "k8s-east", "--logical-env", "production", "-o", "json",
    )  # fmt: skip
    assert refused.code == 8
    assert refused.json()["results"][0]["violations"] == [
        "no CycloneDX SBOM is attested for this artifact"
    ]
    assert refused.err == (
        "error: would be refused by policy: sbom-present v1: "
        "no CycloneDX SBOM is attested for this artifact\n"
    )
    assert cli("policy", "detach", "sbom-present", "--logical-env", "production").code == 0
    fine = cli(
        "policy", "evaluate", "--digest", d, "--kind", "CONTAINER_IMAGE",
        "--env", "k8s-east", "--logical-env", "production",
    )  # fmt: skip
    assert (fine.code, fine.out) == (0, "no policy is attached here\n")
    assert cli("policy", "remove", "sbom-present").out == "removed policy sbom-present\n"
    assert cli("policy", "describe", "sbom-present").code == 3


def test_advisory_violations_exit_zero(cli: CliRunner, tmp_path: Path) -> None:
    cli("environment", "create", "k8s-east")
    cli(
        "policy",
        "add",
        _file(tmp_path, "p.yaml", policy_yaml("advice", rego('violations := {"hm"}'))),
    )
    cli("policy", "attach", "advice", "--logical-env", "staging", "--mode", "advisory")
    d = digest("image")
    attest(cli, tmp_path, d)
    r = cli(
        "policy", "evaluate", "--digest", d, "--kind", "CONTAINER_IMAGE",
        "--env", "k8s-east", "--logical-env", "staging",
    )  # fmt: skip
    assert r.code == 0
    assert r.out == "advice v1 (advisory): violated\n  - hm\n"


def test_invalid_policies_exit_7_with_one_line(cli: CliRunner, tmp_path: Path) -> None:
    broken = _file(tmp_path, "broken.yaml", policy_yaml("broken", "package main\nresult := {\n"))
    r = cli("policy", "add", broken)
    assert r.code == 7
    assert r.err.startswith("error: spec.policies[0]: Rego does not compile at line 2")
    assert r.err.count("\n") == 1
    network = _file(
        tmp_path, "net.yaml", policy_yaml("net", rego("violations := {x | x := opa.runtime()}"))
    )
    r = cli("policy", "add", network)
    assert (r.code, "opa.runtime" in r.err) == (7, True)
    big = _file(tmp_path, "big.yaml", b"#" * (257 * 1024))
    assert cli("policy", "add", big).code == 7
    assert cli("policy", "list", "-o", "json").json() == []


def test_usage_errors_exit_2(cli: CliRunner) -> None:
    assert cli("policy", "attach", "x").code == 2
    assert cli("policy", "attach", "x", "--logical-env", "production", "--mode", "maybe").code == 2
