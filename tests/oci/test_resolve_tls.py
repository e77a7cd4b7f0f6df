"""HTTPS registries: certificate verification, `ca_file`, SSL_CERT_FILE."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploytrace.errors import InvalidInput, Unavailable
from deploytrace.oci import RegistryCredentials, resolve
from tests.support.registry import Artifacts, Registry

pytestmark = pytest.mark.registry


def _creds(registry: Registry) -> RegistryCredentials:
    return RegistryCredentials(registry.host, registry.username, registry.password)


def test_untrusted_certificate_is_unavailable_mentioning_tls(
    tls_registry: Registry, tls_artifacts: Artifacts
) -> None:
    with pytest.raises(Unavailable) as caught:
        resolve(tls_artifacts.image.ref, kind="CONTAINER_IMAGE", credentials=_creds(tls_registry))
    message = str(caught.value)
    assert f"TLS certificate of registry {tls_registry.host} could not be verified" in message
    assert "--registry-ca-file" in message


def test_ca_file_makes_it_work(tls_registry: Registry, tls_artifacts: Artifacts) -> None:
    for pushed in (tls_artifacts.image, tls_artifacts.index, tls_artifacts.chart):
        resolved = resolve(
            pushed.ref,
            kind=pushed.kind,
            credentials=_creds(tls_registry),
            ca_file=tls_registry.ca_file,
        )
        assert resolved.digest == pushed.digest


def test_ssl_cert_file_is_honoured(
    tls_registry: Registry, tls_artifacts: Artifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert tls_registry.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", tls_registry.ca_file)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    resolved = resolve(
        tls_artifacts.image.digest_ref, kind="CONTAINER_IMAGE", credentials=_creds(tls_registry)
    )
    assert resolved.digest == tls_artifacts.image.digest


def test_localhost_name_is_verified_too(tls_registry: Registry, tls_artifacts: Artifacts) -> None:
    port = tls_registry.host.rsplit(":", 1)[1]
    ref = f"localhost:{port}/{tls_artifacts.chart.repository}:{tls_artifacts.chart.tag}"
    creds = RegistryCredentials(f"localhost:{port}", tls_registry.username, tls_registry.password)
    resolved = resolve(ref, kind="HELM_CHART", credentials=creds, ca_file=tls_registry.ca_file)
    assert resolved.digest == tls_artifacts.chart.digest
    assert resolved.name == f"localhost:{port}/charts/mychart"


@pytest.mark.parametrize("content", [None, "not a certificate"])
def test_unusable_ca_file_is_invalid_input(
    tls_registry: Registry, tmp_path: Path, content: str | None
) -> None:
    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_text(content)
    with pytest.raises(InvalidInput, match=f"cannot use CA file {ca_file}"):
        resolve(tls_registry.ref("demo/app", "1.0"), kind="CONTAINER_IMAGE", ca_file=str(ca_file))
