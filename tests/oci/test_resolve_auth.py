"""Credentials against real registries: htpasswd (Basic) and token (Bearer) auth."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from deploytrace.errors import Unauthenticated
from deploytrace.oci import RegistryCredentials, resolve
from tests.support.registry import Artifacts, Registry

from .helpers import auth_entry, install_credential_helper, write_docker_config

pytestmark = pytest.mark.registry


def _creds(
    registry: Registry, password: str | None = None, server: str | None = None
) -> RegistryCredentials:
    return RegistryCredentials(
        server or registry.host, registry.username, password or registry.password
    )


# --------------------------------------------------------------------------- Basic


def test_basic_with_explicit_credentials(
    basic_registry: Registry, basic_artifacts: Artifacts
) -> None:
    image = basic_artifacts.image
    resolved = resolve(image.ref, kind="CONTAINER_IMAGE", credentials=_creds(basic_registry))
    assert resolved.digest == image.digest


def test_basic_explicit_server_may_carry_a_scheme(
    basic_registry: Registry, basic_artifacts: Artifacts
) -> None:
    creds = _creds(basic_registry, server=f"http://{basic_registry.host}/")
    assert resolve(basic_artifacts.chart.ref, kind="HELM_CHART", credentials=creds).digest == (
        basic_artifacts.chart.digest
    )


def test_basic_with_docker_config_auths(
    basic_registry: Registry, basic_artifacts: Artifacts, _no_user_docker_config: Path
) -> None:
    entry = auth_entry(basic_registry.username, basic_registry.password)
    write_docker_config(_no_user_docker_config, {"auths": {basic_registry.host: entry}})
    assert (
        resolve(basic_artifacts.index.ref, kind="CONTAINER_IMAGE").digest
        == basic_artifacts.index.digest
    )


def test_basic_with_docker_config_username_password(
    basic_registry: Registry, basic_artifacts: Artifacts, _no_user_docker_config: Path
) -> None:
    entry = {"username": basic_registry.username, "password": basic_registry.password}
    write_docker_config(_no_user_docker_config, {"auths": {f"http://{basic_registry.host}": entry}})
    assert (
        resolve(basic_artifacts.image.ref, kind="CONTAINER_IMAGE").digest
        == basic_artifacts.image.digest
    )


@pytest.mark.parametrize("section", ["credHelpers", "credsStore"])
def test_basic_with_credential_helper(
    basic_registry: Registry,
    basic_artifacts: Artifacts,
    _no_user_docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    section: str,
) -> None:
    secrets = {basic_registry.host: (basic_registry.username, basic_registry.password)}
    calls = install_credential_helper(tmp_path / "bin", monkeypatch, "testhelper", secrets)
    config = (
        {"credHelpers": {basic_registry.host: "testhelper"}}
        if section == "credHelpers"
        else {"credsStore": "testhelper"}
    )
    write_docker_config(_no_user_docker_config, config)
    assert (
        resolve(basic_artifacts.image.ref, kind="CONTAINER_IMAGE").digest
        == basic_artifacts.image.digest
    )
    assert calls.read_text().split() == [basic_registry.host]


def test_credential_helper_not_called_for_public_images(
    artifacts: Artifacts,
    _no_user_docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = install_credential_helper(tmp_path / "bin", monkeypatch, "lazy", {})
    write_docker_config(_no_user_docker_config, {"credsStore": "lazy"})
    assert resolve(artifacts.image.ref, kind="CONTAINER_IMAGE").digest == artifacts.image.digest
    assert not calls.exists()


def test_failing_credential_helper_is_unauthenticated_naming_it(
    basic_registry: Registry,
    _no_user_docker_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secrets = {basic_registry.host: ("u", basic_registry.password)}
    install_credential_helper(tmp_path / "bin", monkeypatch, "broken", secrets, exit_code=1)
    write_docker_config(_no_user_docker_config, {"credHelpers": {basic_registry.host: "broken"}})
    with pytest.raises(
        Unauthenticated, match="credential helper docker-credential-broken failed"
    ) as caught:
        resolve(basic_registry.ref("demo/app", "1.0"), kind="CONTAINER_IMAGE")
    assert basic_registry.password not in str(caught.value)


def test_basic_wrong_password(
    basic_registry: Registry, basic_artifacts: Artifacts, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng-Passw0rd-xyz"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Unauthenticated) as caught:
        resolve(
            basic_artifacts.image.ref,
            kind="CONTAINER_IMAGE",
            credentials=_creds(basic_registry, wrong),
        )
    message = str(caught.value)
    assert message.startswith(
        f"registry {basic_registry.host} refused the credentials for repository demo/app (401)"
    )
    assert "explicit credentials" in message
    assert wrong not in message and wrong not in repr(caught.value)
    assert wrong not in caplog.text


def test_basic_without_credentials(basic_registry: Registry, basic_artifacts: Artifacts) -> None:
    with pytest.raises(
        Unauthenticated, match=f"registry {basic_registry.host} denied anonymous access"
    ):
        resolve(basic_artifacts.image.ref, kind="CONTAINER_IMAGE")


def test_explicit_credentials_are_not_sent_to_another_host(
    basic_registry: Registry, basic_artifacts: Artifacts
) -> None:
    # Right user and password, but declared for another server: must not be offered.
    creds = _creds(basic_registry, server="ghcr.io")
    with pytest.raises(Unauthenticated, match="denied anonymous access"):
        resolve(basic_artifacts.image.ref, kind="CONTAINER_IMAGE", credentials=creds)


# --------------------------------------------------------------------------- Bearer


def test_bearer_anonymous_pull(token_registry: Registry, token_artifacts: Artifacts) -> None:
    assert token_registry.token_server is not None
    token_registry.token_server.requests.clear()
    resolved = resolve(token_artifacts.index.ref, kind="CONTAINER_IMAGE")
    assert resolved.digest == token_artifacts.index.digest
    (request,) = token_registry.token_server.requests
    assert (request.method, request.user, request.scopes) == (
        "GET",
        None,
        ["repository:demo/multi:pull"],
    )


def test_bearer_with_credentials(token_registry: Registry, token_artifacts: Artifacts) -> None:
    assert token_registry.token_server is not None
    token_registry.token_server.requests.clear()
    resolved = resolve(
        token_artifacts.chart.ref, kind="HELM_CHART", credentials=_creds(token_registry)
    )
    assert resolved.digest == token_artifacts.chart.digest
    assert [r.user for r in token_registry.token_server.requests] == [token_registry.username]


def test_bearer_explicit_credentials_for_another_host_stay_home(
    token_registry: Registry, token_artifacts: Artifacts
) -> None:
    assert token_registry.token_server is not None
    token_registry.token_server.requests.clear()
    creds = _creds(token_registry, server="registry.example.com")
    assert resolve(token_artifacts.image.ref, kind="CONTAINER_IMAGE", credentials=creds).digest == (
        token_artifacts.image.digest
    )
    assert [r.user for r in token_registry.token_server.requests] == [None]


def test_bearer_private_without_credentials(
    private_token_registry: Registry, private_token_artifacts: Artifacts
) -> None:
    with pytest.raises(
        Unauthenticated, match=f"{private_token_registry.host} denied anonymous access"
    ):
        resolve(private_token_artifacts.image.ref, kind="CONTAINER_IMAGE")


def test_bearer_private_with_credentials(
    private_token_registry: Registry, private_token_artifacts: Artifacts
) -> None:
    image = private_token_artifacts.image
    resolved = resolve(
        image.digest_ref, kind="CONTAINER_IMAGE", credentials=_creds(private_token_registry)
    )
    assert resolved.digest == image.digest


def test_bearer_private_with_docker_config(
    private_token_registry: Registry,
    private_token_artifacts: Artifacts,
    _no_user_docker_config: Path,
) -> None:
    entry = auth_entry(private_token_registry.username, private_token_registry.password)
    write_docker_config(_no_user_docker_config, {"auths": {private_token_registry.host: entry}})
    image = private_token_artifacts.image2
    assert resolve(image.ref, kind="CONTAINER_IMAGE").digest == image.digest


def test_bearer_wrong_password(
    private_token_registry: Registry, private_token_artifacts: Artifacts
) -> None:
    wrong = "Wr0ng-Token-Passw0rd"
    creds = _creds(private_token_registry, wrong)
    with pytest.raises(Unauthenticated) as caught:
        resolve(private_token_artifacts.image.ref, kind="CONTAINER_IMAGE", credentials=creds)
    message = str(caught.value)
    assert (
        f"registry {private_token_registry.host} refused the credentials for repository demo/app"
        in message
    )
    assert wrong not in message


def test_bearer_identity_token_from_docker_config(
    private_token_registry: Registry,
    private_token_artifacts: Artifacts,
    _no_user_docker_config: Path,
) -> None:
    server = private_token_registry.token_server
    assert server is not None
    server.refresh_tokens["refresh-abc"] = private_token_registry.username
    server.requests.clear()
    config = {"auths": {private_token_registry.host: {"identitytoken": "refresh-abc"}}}
    write_docker_config(_no_user_docker_config, config)
    image = private_token_artifacts.index
    assert resolve(image.ref, kind="CONTAINER_IMAGE").digest == image.digest
    (request,) = server.requests
    assert (request.method, request.grant_type, request.user) == ("POST", "refresh_token", "alice")
