"""Where credentials come from: explicit, Docker config `auths`, credHelpers, credsStore."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploytrace.errors import InvalidInput, Unauthenticated
from deploytrace.oci import RegistryCredentials
from deploytrace.oci.credentials import find_auth, normalize_server

from .helpers import auth_entry, install_credential_helper, write_docker_config

SECRET = "hunter2-Secret!"
HUB_KEY = "https://index.docker.io/v1/"


def test_password_never_in_repr_or_str() -> None:
    creds = RegistryCredentials("ghcr.io", "alice", SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in str(creds)
    auth = find_auth("ghcr.io", creds)
    assert auth is not None
    assert SECRET not in repr(auth)


@pytest.mark.parametrize(
    ("server", "kwargs"),
    [("", {"username": "a"}), ("https://", {"username": "a"}), ("ghcr.io", {"username": ""})],
)
def test_explicit_credentials_need_server_and_username(server: str, kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        RegistryCredentials(server, password="p", **kwargs)


@pytest.mark.parametrize(
    ("server", "normalized"),
    [
        ("docker.io", "index.docker.io"),
        ("registry-1.docker.io", "index.docker.io"),
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("HTTPS://GHCR.IO/", "ghcr.io"),
        ("http://127.0.0.1:5000", "127.0.0.1:5000"),
        ("oci://ghcr.io/org", "ghcr.io"),
        ("  ghcr.io  ", "ghcr.io"),
    ],
)
def test_normalize_server(server: str, normalized: str) -> None:
    assert normalize_server(server) == normalized


@pytest.mark.parametrize(
    "server", ["docker.io", "https://index.docker.io/v1/", "registry-1.docker.io"]
)
def test_explicit_credentials_match_docker_hub_spellings(server: str) -> None:
    auth = find_auth("index.docker.io", RegistryCredentials(server, "alice", SECRET))
    assert auth is not None
    assert (auth.username, auth.password, auth.source) == (
        "alice",
        SECRET,
        "the explicit credentials",
    )


def test_explicit_credentials_for_another_host_are_not_used(docker_config: Path) -> None:
    auth = find_auth("127.0.0.1:5000", RegistryCredentials("ghcr.io", "alice", SECRET))
    assert auth is None


def test_explicit_credentials_for_another_host_fall_back_to_docker_config(
    docker_config: Path,
) -> None:
    write_docker_config(docker_config, {"auths": {"127.0.0.1:5000": auth_entry("bob", "b")}})
    auth = find_auth("127.0.0.1:5000", RegistryCredentials("ghcr.io", "alice", SECRET))
    assert auth is not None
    assert (auth.username, auth.password) == ("bob", "b")


@pytest.fixture
def docker_config(_no_user_docker_config: Path) -> Path:
    return _no_user_docker_config


def test_auths_base64_entry(docker_config: Path) -> None:
    path = write_docker_config(
        docker_config, {"auths": {"127.0.0.1:5000": auth_entry("bob", "pw:x")}}
    )
    auth = find_auth("127.0.0.1:5000", None)
    assert auth is not None
    assert (auth.username, auth.password) == ("bob", "pw:x")
    assert auth.source == f"Docker config {path}"


def test_auths_username_password_entry(docker_config: Path) -> None:
    write_docker_config(
        docker_config, {"auths": {"http://127.0.0.1:5000/": {"username": "bob", "password": "pw"}}}
    )
    auth = find_auth("127.0.0.1:5000", None)
    assert auth is not None
    assert (auth.username, auth.password) == ("bob", "pw")


def test_auths_docker_hub_key(docker_config: Path) -> None:
    write_docker_config(docker_config, {"auths": {HUB_KEY: auth_entry("hubuser", "hubpw")}})
    auth = find_auth("index.docker.io", None)
    assert auth is not None
    assert auth.username == "hubuser"


def test_auths_entry_without_credentials_is_anonymous(docker_config: Path) -> None:
    write_docker_config(docker_config, {"auths": {"127.0.0.1:5000": {}}})
    assert find_auth("127.0.0.1:5000", None) is None
    assert find_auth("ghcr.io", None) is None


def test_identity_token_entry(docker_config: Path) -> None:
    write_docker_config(docker_config, {"auths": {"myreg.azurecr.io": {"identitytoken": "rt-1"}}})
    auth = find_auth("myreg.azurecr.io", None)
    assert auth is not None
    assert auth.identity_token == "rt-1"
    assert not auth.has_basic


def test_no_config_file_means_anonymous(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DOCKER_CONFIG is set (to an empty dir): the home directory's config is not consulted.
    home = tmp_path / "home"
    write_docker_config(_mkdir(home / ".docker"), {"auths": {"ghcr.io": auth_entry("me", "pw")}})
    monkeypatch.setenv("HOME", str(home))
    assert find_auth("ghcr.io", None) is None
    monkeypatch.delenv("DOCKER_CONFIG")
    auth = find_auth("ghcr.io", None)
    assert auth is not None
    assert auth.username == "me"


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"auths": {"ghcr.io": {"auth": "!!!"}}}', "malformed 'auths' entry"),
        ('{"auths": {"ghcr.io": "nope"}}', "malformed 'auths' entry"),
    ],
)
def test_malformed_config_is_invalid_input(docker_config: Path, content: str, message: str) -> None:
    (docker_config / "config.json").write_text(content)
    with pytest.raises(InvalidInput, match=message):
        find_auth("ghcr.io", None)


def test_empty_config_is_anonymous(docker_config: Path) -> None:
    (docker_config / "config.json").write_text("{}")
    assert find_auth("ghcr.io", None) is None


def test_cred_helper(docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = install_credential_helper(
        tmp_path / "bin", monkeypatch, "fake", {"127.0.0.1:5000": ("carol", SECRET)}
    )
    write_docker_config(docker_config, {"credHelpers": {"127.0.0.1:5000": "fake"}})
    auth = find_auth("127.0.0.1:5000", None)
    assert auth is not None
    assert (auth.username, auth.password) == ("carol", SECRET)
    assert auth.source == "credential helper docker-credential-fake"
    assert find_auth("ghcr.io", None) is None  # not configured for that host: helper not asked
    assert calls.read_text().split() == ["127.0.0.1:5000"]


def test_creds_store_falls_back_to_auths(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_credential_helper(tmp_path / "bin", monkeypatch, "store", {"ghcr.io": ("dave", "d")})
    write_docker_config(
        docker_config,
        {"credsStore": "store", "auths": {"127.0.0.1:5000": auth_entry("erin", "e")}},
    )
    ghcr = find_auth("ghcr.io", None)
    local = find_auth("127.0.0.1:5000", None)
    assert ghcr is not None and ghcr.username == "dave"
    assert local is not None and local.username == "erin"


def test_creds_store_docker_hub_uses_index_url(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = install_credential_helper(tmp_path / "bin", monkeypatch, "hub", {HUB_KEY: ("h", "p")})
    write_docker_config(docker_config, {"credsStore": "hub"})
    auth = find_auth("index.docker.io", None)
    assert auth is not None and auth.username == "h"
    assert calls.read_text().split() == [HUB_KEY]


def test_failing_helper_is_unauthenticated_naming_it(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_credential_helper(
        tmp_path / "bin", monkeypatch, "broken", {"ghcr.io": ("u", SECRET)}, exit_code=3
    )
    write_docker_config(docker_config, {"credHelpers": {"ghcr.io": "broken"}})
    with pytest.raises(Unauthenticated) as caught:
        find_auth("ghcr.io", None)
    message = str(caught.value)
    assert "docker-credential-broken" in message
    assert "ghcr.io" in message
    assert "status 3" in message
    assert SECRET not in message


def test_missing_helper_is_unauthenticated_naming_it(docker_config: Path) -> None:
    write_docker_config(docker_config, {"credsStore": "does-not-exist"})
    with pytest.raises(Unauthenticated, match=r"docker-credential-does-not-exist .*not installed"):
        find_auth("ghcr.io", None)


def test_helper_with_garbage_output(
    docker_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_credential_helper(tmp_path / "bin", monkeypatch, "garbage", {}, raw_output="<html>")
    write_docker_config(docker_config, {"credHelpers": {"ghcr.io": "garbage"}})
    with pytest.raises(
        Unauthenticated, match="docker-credential-garbage returned malformed output"
    ):
        find_auth("ghcr.io", None)
