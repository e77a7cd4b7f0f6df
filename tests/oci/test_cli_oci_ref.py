"""`deployment record --oci-ref` end to end: the embedded CLI against real registries."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.oci.helpers import auth_entry, install_credential_helper, write_docker_config
from tests.support.cli import RECORD, CliRunner, Result, attest
from tests.support.registry import Artifacts, Registry


@pytest.fixture
def ready(cli: CliRunner, tmp_path: Path) -> CliRunner:
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    return cli


def _record(cli: CliRunner, ref: str, kind: str = "CONTAINER_IMAGE", *extra: str) -> Result:
    return cli(*RECORD, "--kind", kind, "--oci-ref", ref, "-o", "json", *extra)


def test_record_by_tag_keeps_repository_and_tag(
    ready: CliRunner, tmp_path: Path, artifacts: Artifacts
) -> None:
    image = artifacts.image
    attest(ready, tmp_path, image.digest)
    r = _record(ready, image.ref)
    assert r.code == 0, r.err
    rec = r.json()
    assert rec["artifact"] == {"digest": image.digest, "name": image.name, "version": image.tag}
    assert rec["action"] == "created"


def test_record_by_digest(ready: CliRunner, tmp_path: Path, artifacts: Artifacts) -> None:
    image = artifacts.image2
    attest(ready, tmp_path, image.digest)
    rec = _record(ready, image.digest_ref).json()
    assert rec["artifact"] == {"digest": image.digest, "name": image.name, "version": None}


def test_multi_platform_image_records_the_index_digest(
    ready: CliRunner, tmp_path: Path, artifacts: Artifacts
) -> None:
    attest(ready, tmp_path, artifacts.index.digest)
    rec = _record(ready, artifacts.index.ref).json()
    assert rec["artifact"]["digest"] == artifacts.index.digest


def test_helm_chart_with_oci_prefix(ready: CliRunner, tmp_path: Path, artifacts: Artifacts) -> None:
    chart = artifacts.chart
    attest(ready, tmp_path, chart.digest)
    r = _record(ready, f"oci://{chart.ref}", "HELM_CHART")
    assert r.code == 0, r.err
    assert r.json()["artifact"] == {
        "digest": chart.digest,
        "name": chart.name,
        "version": chart.tag,
    }
    assert r.json()["kind"] == "HELM_CHART"


def test_kind_mismatch_is_refused(ready: CliRunner, tmp_path: Path, artifacts: Artifacts) -> None:
    attest(ready, tmp_path, artifacts.image.digest, artifacts.chart.digest)
    r = _record(ready, artifacts.image.ref, "HELM_CHART")
    assert r.code == 7 and "not a Helm chart" in r.err, r.err
    r = _record(ready, artifacts.chart.ref, "CONTAINER_IMAGE")
    assert r.code == 7 and "Helm chart" in r.err, r.err


def test_unattested_image_from_the_registry_is_refused(
    ready: CliRunner, artifacts: Artifacts
) -> None:
    r = _record(ready, artifacts.docker_image.ref)
    assert r.code == 3
    assert "not attested" in r.err


def test_exactly_one_of_oci_ref_and_digest(ready: CliRunner, artifacts: Artifacts) -> None:
    both = ready(
        *RECORD,
        "--kind",
        "CONTAINER_IMAGE",
        "--oci-ref",
        artifacts.image.ref,
        "--digest",
        artifacts.image.digest,
    )
    assert both.code == 2
    assert ready(*RECORD, "--kind", "CONTAINER_IMAGE").code == 2


@pytest.mark.parametrize("ref", ["UPPER/Case:tag", "repo:bad tag", "a@sha256:zz", "", "http://x/y"])
def test_malformed_reference_exit_7(ready: CliRunner, ref: str) -> None:
    r = _record(ready, ref)
    assert r.code == 7, r.err
    assert r.err.startswith("error: ")


def test_unknown_tag_and_repository_exit_3(ready: CliRunner, anon_registry: Registry) -> None:
    assert _record(ready, anon_registry.ref("demo/app", "no-such-tag")).code == 3
    assert _record(ready, anon_registry.ref("no/such-repo", "v1")).code == 3


def test_unreachable_registry_exit_6(ready: CliRunner) -> None:
    r = _record(ready, "127.0.0.1:9/demo/app:v1")
    assert r.code == 6
    assert "127.0.0.1:9" in r.err


class TestCredentials:
    """Flags, environment variables, DOCKER_CONFIG, credential helpers; never echoing secrets."""

    def test_missing_credentials_exit_5_naming_the_registry(
        self, ready: CliRunner, basic_artifacts: Artifacts
    ) -> None:
        r = _record(ready, basic_artifacts.image.ref)
        assert r.code == 5
        assert basic_artifacts.image.registry in r.err

    def test_flags(
        self, ready: CliRunner, tmp_path: Path, basic_registry: Registry, basic_artifacts: Artifacts
    ) -> None:
        image = basic_artifacts.image
        attest(ready, tmp_path, image.digest)
        r = _record(
            ready,
            image.ref,
            "CONTAINER_IMAGE",
            "--registry-server",
            basic_registry.host,
            "--registry-username",
            basic_registry.username,
            "--registry-password",
            basic_registry.password,
        )
        assert r.code == 0, r.err
        assert r.json()["artifact"]["digest"] == image.digest
        assert basic_registry.password not in r.out

    def test_wrong_password_exit_5_and_never_echoed(
        self, ready: CliRunner, basic_registry: Registry, basic_artifacts: Artifacts
    ) -> None:
        secret = "Wr0ng-s3cret-value"
        r = _record(
            ready,
            basic_artifacts.image.ref,
            "CONTAINER_IMAGE",
            "--registry-server",
            basic_registry.host,
            "--registry-username",
            basic_registry.username,
            "--registry-password",
            secret,
        )
        assert r.code == 5
        assert basic_registry.host in r.err
        assert secret not in r.err + r.out

    def test_password_from_stdin(
        self, ready: CliRunner, tmp_path: Path, basic_registry: Registry, basic_artifacts: Artifacts
    ) -> None:
        attest(ready, tmp_path, basic_artifacts.image.digest)
        r = ready(
            *RECORD,
            "--kind",
            "CONTAINER_IMAGE",
            "--oci-ref",
            basic_artifacts.image.ref,
            "--registry-server",
            basic_registry.host,
            "--registry-username",
            basic_registry.username,
            "--registry-password-stdin",
            stdin=basic_registry.password + "\n",
        )
        assert r.code == 0, r.err

    def test_environment_variables(
        self,
        ready: CliRunner,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        basic_registry: Registry,
        basic_artifacts: Artifacts,
    ) -> None:
        attest(ready, tmp_path, basic_artifacts.image.digest)
        monkeypatch.setenv("DEPLOYTRACE_REGISTRY_SERVER", basic_registry.host)
        monkeypatch.setenv("DEPLOYTRACE_REGISTRY_USERNAME", basic_registry.username)
        monkeypatch.setenv("DEPLOYTRACE_REGISTRY_PASSWORD", basic_registry.password)
        assert _record(ready, basic_artifacts.image.ref).code == 0

    def test_docker_config(
        self,
        ready: CliRunner,
        tmp_path: Path,
        _no_user_docker_config: Path,
        basic_registry: Registry,
        basic_artifacts: Artifacts,
    ) -> None:
        attest(ready, tmp_path, basic_artifacts.image.digest)
        write_docker_config(
            _no_user_docker_config,
            {
                "auths": {
                    basic_registry.host: auth_entry(
                        basic_registry.username, basic_registry.password
                    )
                }
            },
        )
        assert _record(ready, basic_artifacts.image.ref).code == 0

    def test_credential_helper(
        self,
        ready: CliRunner,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        _no_user_docker_config: Path,
        private_token_artifacts: Artifacts,
        private_token_registry: Registry,
    ) -> None:
        registry = private_token_registry
        attest(ready, tmp_path, private_token_artifacts.image.digest)
        assert _record(ready, private_token_artifacts.image.ref).code == 5
        install_credential_helper(
            tmp_path / "bin",
            monkeypatch,
            "pipeline",
            {registry.host: (registry.username, registry.password)},
        )
        write_docker_config(_no_user_docker_config, {"credHelpers": {registry.host: "pipeline"}})
        r = _record(ready, private_token_artifacts.image.ref)
        assert r.code == 0, r.err
        assert r.json()["artifact"]["digest"] == private_token_artifacts.image.digest

    def test_tls_registry_with_ca(
        self, ready: CliRunner, tmp_path: Path, tls_registry: Registry, tls_artifacts: Artifacts
    ) -> None:
        attest(ready, tmp_path, tls_artifacts.image.digest)
        creds = [
            "--registry-server",
            tls_registry.host,
            "--registry-username",
            tls_registry.username,
            "--registry-password",
            tls_registry.password,
        ]
        untrusted = _record(ready, tls_artifacts.image.ref, "CONTAINER_IMAGE", *creds)
        assert untrusted.code == 6
        assert tls_registry.ca_file
        trusted = _record(
            ready,
            tls_artifacts.image.ref,
            "CONTAINER_IMAGE",
            *creds,
            "--registry-ca-file",
            str(tls_registry.ca_file),
        )
        assert trusted.code == 0, trusted.err
