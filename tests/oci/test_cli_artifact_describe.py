"""`artifact describe` with an OCI reference: resolved through the registry, then traced."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import CliRunner, attest
from tests.support.registry import Artifacts, Registry


def test_describe_by_tag_resolves_through_the_registry(
    cli: CliRunner, tmp_path: Path, artifacts: Artifacts
) -> None:
    image = artifacts.image
    attest(cli, tmp_path, image.digest)
    r = cli("artifact", "describe", image.ref, "-o", "json")
    assert r.code == 0, r.err
    found = r.json()
    assert (found["reference"], found["digest"]) == (image.ref, image.digest)
    assert len(found["attestations"]) == 1
    table = cli("artifact", "describe", image.ref)
    assert table.code == 0 and image.digest in table.out and image.ref in table.out


def test_a_helm_chart_needs_no_kind(cli: CliRunner, tmp_path: Path, artifacts: Artifacts) -> None:
    chart = artifacts.chart
    attest(cli, tmp_path, chart.digest)
    r = cli("artifact", "describe", f"oci://{chart.ref}", "-o", "json")
    assert r.code == 0, r.err
    assert r.json()["digest"] == chart.digest


def test_an_untraced_reference_exits_3(cli: CliRunner, artifacts: Artifacts) -> None:
    r = cli("artifact", "describe", artifacts.image2.ref)
    assert r.code == 3
    assert r.err.startswith(f"error: artifact {artifacts.image2.digest} not found")


def test_registry_credentials_flags(
    cli: CliRunner, tmp_path: Path, basic_registry: Registry, basic_artifacts: Artifacts
) -> None:
    image = basic_artifacts.image
    attest(cli, tmp_path, image.digest)
    assert cli("artifact", "describe", image.ref).code == 5
    r = cli(
        "artifact",
        "describe",
        image.ref,
        "-o",
        "json",
        "--registry-server",
        basic_registry.host,
        "--registry-username",
        basic_registry.username,
        "--registry-password",
        basic_registry.password,
    )
    assert r.code == 0, r.err
    assert r.json()["digest"] == image.digest
    assert basic_registry.password not in r.out
