"""The registry options of commands that resolve OCI references (`--oci-ref` and friends)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from deploytrace.oci import RegistryCredentials

F = TypeVar("F", bound=Callable[..., object])


def registry_options(func: F) -> F:
    """`--registry-server/-username/-password/-password-stdin/-ca-file`, as keyword arguments."""
    for option in reversed(
        [
            click.option(
                "--registry-server", default=None, help="Registry host the credentials are for."
            ),
            click.option("--registry-username", default=None, help="Registry user name."),
            click.option("--registry-password", default=None, help="Registry password or token."),
            click.option(
                "--registry-password-stdin",
                is_flag=True,
                help="Read the registry password from stdin.",
            ),
            click.option(
                "--registry-ca-file",
                default=None,
                help="CA bundle for the registry's TLS certificate.",
            ),
        ]
    ):
        func = option(func)
    return func


def registry_credentials(
    server: str | None, username: str | None, password: str | None, password_stdin: bool
) -> RegistryCredentials | None:
    """Credentials from the flags, else DEPLOYTRACE_REGISTRY_*; None when none are given."""
    from deploytrace.oci import RegistryCredentials

    server = server or os.environ.get("DEPLOYTRACE_REGISTRY_SERVER") or None
    username = username or os.environ.get("DEPLOYTRACE_REGISTRY_USERNAME") or None
    if password_stdin:
        if password:
            raise click.UsageError(
                "--registry-password and --registry-password-stdin exclude each other"
            )
        password = sys.stdin.read().rstrip("\r\n")
    password = password or os.environ.get("DEPLOYTRACE_REGISTRY_PASSWORD") or None
    given = [v is not None for v in (server, username, password)]
    if not any(given):
        return None
    if not all(given):
        raise click.UsageError(
            "registry credentials need all three of --registry-server, --registry-username "
            "and --registry-password (or their DEPLOYTRACE_REGISTRY_* variables)"
        )
    return RegistryCredentials(server=str(server), username=str(username), password=str(password))
