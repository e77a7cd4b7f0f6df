"""Where registry credentials come from: explicit ones, else the user's Docker config.

The Docker config side (file location, `auths`, `credHelpers`, `credsStore`) is
docker-py's `docker.auth`, so helpers behave exactly as with `docker pull`. We
only add what docker-py lacks: plain `username`/`password` entries in `auths`,
and error messages that name the failing piece without leaking secrets.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deploytrace.errors import InvalidInput, Unauthenticated
from deploytrace.oci.reference import DOCKER_HUB, DOCKER_HUB_ALIASES

log = logging.getLogger(__name__)

# docker-py's name for Docker Hub; its helpers are then asked for the
# `https://index.docker.io/v1/` key, as the Docker CLI does.
_DOCKER_PY_HUB = "docker.io"


@dataclass(frozen=True)
class RegistryCredentials:
    """Credentials the user passed explicitly, valid for one registry server."""

    server: str
    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not normalize_server(self.server):
            raise InvalidInput("registry credentials need a server (the registry host)")
        if not self.username:
            raise InvalidInput(f"registry credentials for {self.server} need a username")

    def __str__(self) -> str:
        return f"{self.username}@{self.server}"


@dataclass(frozen=True)
class Auth:
    """Credentials chosen for one registry, and where they came from (for messages)."""

    source: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # An OAuth2 refresh token (`identitytoken` in the Docker config), e.g. from ACR.
    identity_token: str | None = field(default=None, repr=False)

    @property
    def has_basic(self) -> bool:
        return self.username is not None and self.password is not None


def normalize_server(server: str) -> str:
    """`https://Registry-1.Docker.io/v1/` -> `index.docker.io`: a bare, lower-case host[:port]."""
    text = server.strip().lower()
    for scheme in ("https://", "http://", "oci://"):
        text = text.removeprefix(scheme)
    host = text.split("/", 1)[0]
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def find_auth(registry: str, explicit: RegistryCredentials | None) -> Auth | None:
    """The credentials to offer `registry`, or None for anonymous access."""
    if explicit is not None and normalize_server(explicit.server) == normalize_server(registry):
        return Auth("the explicit credentials", explicit.username, explicit.password)
    return _from_docker_config(registry)


def docker_config_path() -> Path | None:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, if it exists.

    Unlike docker-py's lookup we do not fall back to the home directory when
    DOCKER_CONFIG is set: the Docker CLI doesn't, and a test or CI job that sets
    it must not silently pick up the user's own credentials.
    """
    configured = os.environ.get("DOCKER_CONFIG")
    try:
        directory = Path(configured) if configured else Path.home() / ".docker"
    except RuntimeError:  # no home directory at all
        return None
    path = directory / "config.json"
    return path if path.is_file() else None


def _from_docker_config(registry: str) -> Auth | None:
    path = docker_config_path()
    if path is None:
        return None
    raw = _read_config(path)
    if not raw:
        return None
    # Deferred: importing docker-py costs time on every CLI call, even anonymous ones.
    import docker.auth
    import docker.errors

    try:
        config = docker.auth.load_config(config_dict=_with_plain_passwords(raw))
    except (docker.errors.DockerException, ValueError, TypeError):
        raise InvalidInput(f"Docker config {path} has a malformed 'auths' entry") from None
    key = _DOCKER_PY_HUB if normalize_server(registry) == DOCKER_HUB else registry
    entry = _resolve(config, key, registry)
    return _to_auth(entry, path, config.get_credential_store(key))


def _read_config(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not valid JSON"
        raise InvalidInput(f"cannot read Docker config {path}: {reason}") from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"Docker config {path} is not a JSON object")
    return raw


def _with_plain_passwords(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn `{"username", "password"}` entries into the `auth` form docker-py reads.

    docker-py silently drops entries without `auth`, but the Docker CLI and
    go-containerregistry accept both forms. Returns a copy: docker-py pops keys.
    """
    config = dict(raw)
    auths = config.get("auths")
    if isinstance(auths, dict):
        config["auths"] = {key: _encode_entry(entry) for key, entry in auths.items()}
    return config


def _encode_entry(entry: Any) -> Any:
    if not isinstance(entry, dict) or "auth" in entry:
        return entry
    username, password = entry.get("username"), entry.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return entry
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {**entry, "auth": token}


def _resolve(config: Any, key: str, registry: str) -> dict[str, Any] | None:
    """docker-py's lookup, with helper failures turned into one clear sentence."""
    import docker.errors

    helper = config.get_credential_store(key)
    try:
        with warnings.catch_warnings():
            # docker-py warns (on stderr) when a helper is missing; we raise instead.
            warnings.simplefilter("ignore")
            entry = config.resolve_authconfig(key)
    except docker.errors.DockerException as exc:
        raise Unauthenticated(
            f"credential helper docker-credential-{helper} failed for registry {registry}: "
            f"{_helper_failure(exc)}"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise Unauthenticated(
            f"credential helper docker-credential-{helper} returned malformed output "
            f"for registry {registry}"
        ) from None
    return entry if isinstance(entry, dict) else None


def _helper_failure(exc: BaseException) -> str:
    # Walk the cause chain for the real reason; never repeat the helper's output,
    # which is not ours to print and could hold anything.
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, subprocess.CalledProcessError):
            return f"it exited with status {cause.returncode}"
        if "not installed" in str(cause):
            return "it is not installed or not on PATH"
        cause = cause.__cause__
    return "it did not return credentials"


def _to_auth(entry: dict[str, Any] | None, path: Path, helper: str | None) -> Auth | None:
    if not entry:
        return None
    # Entries from `auths` use lower-case keys, entries from helpers capitalized ones.
    username = entry.get("username", entry.get("Username"))
    password = entry.get("password", entry.get("Password"))
    token = entry.get("IdentityToken")
    from_helper = "ServerAddress" in entry and helper is not None
    source = (
        f"credential helper docker-credential-{helper}" if from_helper else f"Docker config {path}"
    )
    if isinstance(token, str) and token:
        return Auth(source, username=username or None, identity_token=token)
    if isinstance(username, str) and isinstance(password, str) and username:
        log.debug("using credentials from %s", source)
        return Auth(source, username, password)
    return None
