"""Small test helpers: Docker config files and fake credential helpers on PATH."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest


def write_docker_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / "config.json"
    path.write_text(json.dumps(config))
    return path


def auth_entry(username: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{username}:{password}".encode()).decode()}


def install_credential_helper(
    bin_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    secrets: dict[str, tuple[str, str]],
    *,
    exit_code: int | None = None,
    raw_output: str | None = None,
) -> Path:
    """Put `docker-credential-<name>` on PATH: answers `get` for the servers in `secrets`.

    Servers it does not know get the protocol's "credentials not found" answer;
    `exit_code` makes it fail outright, `raw_output` makes it print that instead.
    Every call appends the server it was asked about to `<bin_dir>/<name>.calls`.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = bin_dir / f"{name}.calls"
    answers = {
        server: json.dumps({"ServerURL": server, "Username": user, "Secret": secret})
        for server, (user, secret) in secrets.items()
    }
    cases = "".join(f"  '{host}') printf '%s' '{answer}' ;;\n" for host, answer in answers.items())
    if exit_code is not None:
        body = f'echo "helper broke: {secrets}" ; exit {exit_code}\n'
    elif raw_output is not None:
        body = f"printf '%s' '{raw_output}'\n"
    else:
        body = (
            'case "$server" in\n'
            f"{cases}"
            "  *) echo 'credentials not found in native keychain' ; exit 1 ;;\n"
            "esac\n"
        )
    script = bin_dir / f"docker-credential-{name}"
    script.write_text(
        f'#!/bin/sh\n[ "$1" = get ] || exit 2\nread -r server\necho "$server" >> "{calls}"\n{body}'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls
