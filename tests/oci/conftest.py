"""Session-scoped real registries (see tests/support/registry.py) and hermetic credentials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry import (
    Artifacts,
    Registry,
    non_loopback_name,
    running_registry,
    seed,
)


@pytest.fixture(autouse=True)
def _no_user_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point DOCKER_CONFIG at an empty dir: the developer's own credentials never leak in."""
    directory = tmp_path / "docker-config"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    return directory


@pytest.fixture(scope="session")
def anon_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Anonymous read/write registry over plain HTTP."""
    with running_registry(tmp_path_factory.mktemp("anon-registry")) as registry:
        yield registry


@pytest.fixture(scope="session")
def artifacts(anon_registry: Registry) -> Artifacts:
    """The standard set (image, image2, docker_image, index, chart) in `anon_registry`."""
    return seed(anon_registry)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """htpasswd (Basic) registry; user `alice`, password `registry.password`."""
    with running_registry(tmp_path_factory.mktemp("basic-registry"), auth="basic") as registry:
        yield registry


@pytest.fixture(scope="session")
def basic_artifacts(basic_registry: Registry) -> Artifacts:
    return seed(basic_registry)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Bearer-token registry whose token server grants anonymous pulls."""
    with running_registry(tmp_path_factory.mktemp("token-registry"), auth="token") as registry:
        yield registry


@pytest.fixture(scope="session")
def token_artifacts(token_registry: Registry) -> Artifacts:
    return seed(token_registry)


@pytest.fixture(scope="session")
def private_token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Bearer-token registry: anonymous callers get tokens without any access."""
    workdir = tmp_path_factory.mktemp("private-token-registry")
    with running_registry(workdir, auth="token", anonymous_pull=False) as registry:
        yield registry


@pytest.fixture(scope="session")
def private_token_artifacts(private_token_registry: Registry) -> Artifacts:
    return seed(private_token_registry)


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """HTTPS registry with a throwaway CA (`registry.ca_file`), htpasswd auth."""
    workdir = tmp_path_factory.mktemp("tls-registry")
    with running_registry(workdir, auth="basic", tls=True) as registry:
        yield registry


@pytest.fixture(scope="session")
def tls_artifacts(tls_registry: Registry) -> Artifacts:
    return seed(tls_registry)


@pytest.fixture(scope="session")
def named_tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """The same HTTPS registry, reached by a host name deploytrace does not take for
    loopback: the path real registries take (see registry.non_loopback_name)."""
    workdir = tmp_path_factory.mktemp("named-tls-registry")
    with (
        non_loopback_name() as (name, address, _how),
        running_registry(workdir, auth="basic", tls=True, bind=address, name=name) as registry,
    ):
        yield registry


@pytest.fixture(scope="session")
def named_tls_artifacts(named_tls_registry: Registry) -> Artifacts:
    return seed(named_tls_registry)
