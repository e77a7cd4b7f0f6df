"""HTTPS registries: certificate verification, `ca_file`, SSL_CERT_FILE.

Each test runs twice: against the registry on 127.0.0.1 (loopback: deploytrace
first probes plain HTTP, as Docker does) and against the same kind of registry
reached by a host name that is not loopback, the only way real registries are
reached: HTTPS from the first request, the name checked against the certificate.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploytrace.errors import InvalidInput, Unavailable
from deploytrace.hosts import is_loopback
from deploytrace.oci import RegistryCredentials, resolve
from deploytrace.oci.transport import Transport
from tests.support.registry import (
    FALLBACK_NAME,
    Artifacts,
    Registry,
    non_loopback_name,
    running_registry,
)

_getaddrinfo = socket.getaddrinfo

pytestmark = pytest.mark.registry


@pytest.fixture(params=["loopback", "by-name"])
def tls(request: pytest.FixtureRequest) -> tuple[Registry, Artifacts]:
    prefix = "" if request.param == "loopback" else "named_"
    registry: Registry = request.getfixturevalue(f"{prefix}tls_registry")
    artifacts: Artifacts = request.getfixturevalue(f"{prefix}tls_artifacts")
    assert is_loopback(registry.host) == (request.param == "loopback")
    return registry, artifacts


@pytest.fixture
def any_tls_registry(tls: tuple[Registry, Artifacts]) -> Registry:
    return tls[0]


@pytest.fixture
def urls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.URL]]:
    """Every URL deploytrace's registry transport requests."""
    seen: list[httpx.URL] = []
    original = Transport.request

    def spy(self: Transport, method: str, url: httpx.URL, **kwargs: Any) -> Any:
        seen.append(url)
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(Transport, "request", spy)
    yield seen


def _creds(registry: Registry) -> RegistryCredentials:
    return RegistryCredentials(registry.host, registry.username, registry.password)


def test_a_registry_by_name_is_spoken_to_in_https_only(
    named_tls_registry: Registry, named_tls_artifacts: Artifacts, urls: list[httpx.URL]
) -> None:
    pushed = named_tls_artifacts.image
    resolved = resolve(
        pushed.ref,
        kind=pushed.kind,
        credentials=_creds(named_tls_registry),
        ca_file=named_tls_registry.ca_file,
    )
    assert resolved.digest == pushed.digest
    assert resolved.name == f"{named_tls_registry.host}/demo/app"
    assert urls and {u.scheme for u in urls} == {"https"}
    assert {u.host for u in urls} == {named_tls_registry.host.rsplit(":", 1)[0]}


def test_without_a_resolvable_host_name_a_test_name_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, urls: list[httpx.URL]
) -> None:
    """The fallback of non_loopback_name, for machines whose host name resolves nowhere."""
    monkeypatch.setattr(socket, "gethostname", lambda: "localhost")
    with (
        non_loopback_name() as (name, address, how),
        running_registry(tmp_path, tls=True, bind=address, name=name) as registry,
    ):
        assert name == FALLBACK_NAME and "in-process" in how
        pushed = registry.push_image("demo/app", "1.0")
        resolved = resolve(pushed.ref, kind="CONTAINER_IMAGE", ca_file=registry.ca_file)
        assert resolved.digest == pushed.digest
    assert {u.scheme for u in urls} == {"https"}
    assert socket.getaddrinfo is _getaddrinfo  # put back


def test_the_loopback_registry_is_probed_over_plain_http_first(
    tls_registry: Registry, tls_artifacts: Artifacts, urls: list[httpx.URL]
) -> None:
    """What the by-name path above must not do (and what every other real-registry
    test exercised until now)."""
    resolve(
        tls_artifacts.image.ref,
        kind="CONTAINER_IMAGE",
        credentials=_creds(tls_registry),
        ca_file=tls_registry.ca_file,
    )
    assert urls[0].scheme == "http" and urls[-1].scheme == "https"


def test_untrusted_certificate_is_unavailable_mentioning_tls(
    tls: tuple[Registry, Artifacts],
) -> None:
    tls_registry, tls_artifacts = tls
    with pytest.raises(Unavailable) as caught:
        resolve(tls_artifacts.image.ref, kind="CONTAINER_IMAGE", credentials=_creds(tls_registry))
    message = str(caught.value)
    assert f"TLS certificate of registry {tls_registry.host} could not be verified" in message
    assert "--registry-ca-file" in message


def test_ca_file_makes_it_work(tls: tuple[Registry, Artifacts]) -> None:
    tls_registry, tls_artifacts = tls
    for pushed in (tls_artifacts.image, tls_artifacts.index, tls_artifacts.chart):
        resolved = resolve(
            pushed.ref,
            kind=pushed.kind,
            credentials=_creds(tls_registry),
            ca_file=tls_registry.ca_file,
        )
        assert resolved.digest == pushed.digest


def test_ssl_cert_file_is_honoured(
    tls: tuple[Registry, Artifacts], monkeypatch: pytest.MonkeyPatch
) -> None:
    tls_registry, tls_artifacts = tls
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
    any_tls_registry: Registry, tmp_path: Path, content: str | None
) -> None:
    tls_registry = any_tls_registry  # either way of reaching it
    ca_file = tmp_path / "ca.pem"
    if content is not None:
        ca_file.write_text(content)
    with pytest.raises(InvalidInput, match=f"cannot use CA file {ca_file}"):
        resolve(tls_registry.ref("demo/app", "1.0"), kind="CONTAINER_IMAGE", ca_file=str(ca_file))
