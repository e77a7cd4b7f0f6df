"""A seeded embedded store: the README's quick start, done through the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliRunner, attest
from tests.support.digests import digest

V1, V2 = digest("v1.0.0"), digest("v1.1.0")
RECORD = (
    "deployment record --env k8s-east --deployment-name api-server --kind CONTAINER_IMAGE"
).split()


@dataclass
class Seeded:
    cli: CliRunner
    home: Path


@pytest.fixture
def seeded(cli: CliRunner, tmp_path: Path) -> Seeded:
    """k8s-east: v1.0.0 staged, promoted, then superseded by v1.1.0 in production."""
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    attest(cli, tmp_path, V1, V2)
    for logical, d, version in (
        ("staging", V1, "v1.0.0"),
        ("production", V1, "v1.0.0"),
        ("production", V2, "v1.1.0"),
    ):
        r = cli(*RECORD, "--logical-env", logical, "--digest", d, "--artifact-version", version)
        assert r.code == 0, r.err
    return Seeded(cli, tmp_path / "home")
