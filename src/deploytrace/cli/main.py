"""The `deploytrace` command: the root group, shared options, and the one exit-code table.

Heavy modules (FastAPI, SQLAlchemy, httpx, Rich) are imported inside the
commands that need them, so every call pays only for what it uses.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click

from deploytrace import errors

EXIT_CODES: dict[type[errors.DeploytraceError], int] = {
    errors.InvalidInput: 7,
    errors.NotFound: 3,
    errors.Conflict: 4,
    errors.Unauthenticated: 5,
    errors.Forbidden: 5,
    errors.Unavailable: 6,
    errors.PolicyViolation: 8,
}
USAGE = 2


def exit_code(error: errors.DeploytraceError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


class State:
    """Per-invocation state: output format and how to reach the API."""

    def __init__(self) -> None:
        from deploytrace.settings import Settings

        self.settings = Settings.from_env()
        self.output = "table"
        self.server = self.settings.server
        self.token = self.settings.token
        self._client: Any = None

    @property
    def json(self) -> bool:
        return self.output == "json"

    @property
    def client(self) -> Any:
        if self._client is None:
            from deploytrace.cli.client import ApiClient

            if self.server:
                from deploytrace.cli.http import HttpTransport

                transport: Any = HttpTransport(self.server, self.token, self.settings.http_timeout)
            else:
                from deploytrace.cli.embedded import embedded_transport

                transport = embedded_transport(self.settings)
            self._client = ApiClient(transport)
        return self._client


F = TypeVar("F", bound=Callable[..., Any])


def _apply_common(state: State, output: str | None, server: str | None, token: str | None) -> None:
    if output is not None:
        state.output = output
    if server is not None:
        state.server = server or None
    if token is not None:
        state.token = token or None


_OUTPUT = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default=None, help="Output format."
)
_SERVER = click.option(
    "--server", default=None, help="Server URL [env DEPLOYTRACE_SERVER]. Unset: embedded."
)
_TOKEN = click.option("--token", default=None, help="API token [env DEPLOYTRACE_TOKEN].")


def common_options(func: F) -> F:
    """`-o`, `--server` and `--token`, accepted on every command as well as before it."""

    def wrapper(
        ctx: click.Context,
        /,
        *args: Any,
        output: str | None,
        server: str | None,
        token: str | None,
        **kwargs: Any,
    ) -> Any:
        state = ctx.ensure_object(State)
        _apply_common(state, output, server, token)
        return func(state, *args, **kwargs)

    # Keeps the name, the help text and the options already stacked on `func`.
    functools.update_wrapper(wrapper, func)
    return cast(F, _OUTPUT(_SERVER(_TOKEN(click.pass_context(wrapper)))))


class LazyGroup(click.Group):
    """Imports a sub-command's module only when that sub-command runs."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attr, _ = self.lazy[cmd_name]
            import importlib

            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][2]) for name in sorted(self.lazy)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


_COMMANDS = {
    "environment": (
        "deploytrace.cli.environments",
        "environment",
        "Infrastructure targets (clusters, servers).",
    ),
    "logical-environment": (
        "deploytrace.cli.environments",
        "logical_environment",
        "Lifecycle stages (development, staging, production, ...).",
    ),
    "deployment": ("deploytrace.cli.deployments", "deployment", "Record and list what runs where."),
    "attestation": (
        "deploytrace.cli.attestations",
        "attestation",
        "Push and inspect attestations (in-toto evidence).",
    ),
    "artifact": (
        "deploytrace.cli.artifacts",
        "artifact",
        "Trace an artifact to evidence and deployments.",
    ),
    "trust": (
        "deploytrace.cli.trust",
        "trust",
        "Keys and Sigstore roots trusted for signatures.",
    ),
    "metrics": ("deploytrace.cli.metrics", "metrics", "DORA metrics from recorded deployments."),
    "policy": ("deploytrace.cli.policies", "policy", "Policy gates: Rego over the evidence."),
    "token": ("deploytrace.cli.tenancy", "token", "API tokens of your organization."),
    "audit": ("deploytrace.cli.tenancy", "audit", "The tamper-evident audit log."),
    "webhook": (
        "deploytrace.cli.webhooks",
        "webhook",
        "Signed CloudEvents to other systems (server mode).",
    ),
    "server": ("deploytrace.cli.admin", "server", "Serve the API and dashboard."),
    "ui": ("deploytrace.cli.ui", "ui", "The dashboard on the embedded database, signed in."),
    "admin": (
        "deploytrace.cli.admin",
        "admin",
        "Operator commands that talk to the database directly.",
    ),
    "db": ("deploytrace.cli.admin", "db", "Database schema management."),
}


@click.group(
    cls=LazyGroup, lazy=_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="deploytrace", prog_name="deploytrace")
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default=None, help="Output format."
)
@click.option(
    "--server", default=None, help="Server URL [env DEPLOYTRACE_SERVER]. Unset: embedded."
)
@click.option("--token", default=None, help="API token [env DEPLOYTRACE_TOKEN].")
@click.pass_context
def cli(ctx: click.Context, output: str | None, server: str | None, token: str | None) -> None:
    """deploytrace: what is running where, and what evidence stands behind it."""
    _apply_common(ctx.ensure_object(State), output, server, token)


def _fail(message: str, code: int) -> None:
    from deploytrace.cli.output import safe

    # Messages can quote input or a server's answer: never let them drive the terminal.
    sys.stderr.write(f"error: {safe(message)}\n")
    sys.exit(code)


def _debug() -> bool:
    from deploytrace.settings import Settings

    try:
        return Settings.from_env().debug
    except errors.DeploytraceError:
        return False


def main(argv: list[str] | None = None) -> None:
    try:
        result = cli.main(args=argv, prog_name="deploytrace", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.exceptions.NoArgsIsHelpError as error:
        # `deploytrace` or `deploytrace deployment` alone: asking what there is, not a mistake.
        sys.stdout.write(error.ctx.get_help() + "\n")
        sys.exit(0)
    except click.UsageError as error:
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
        _fail(error.format_message() + hint, USAGE)
    except click.ClickException as error:
        _fail(error.format_message(), error.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", 1)
    except errors.DeploytraceError as error:
        _fail(error.message, exit_code(error))
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as error:
        if _debug():
            raise
        _fail(
            f"unexpected {type(error).__name__}: {error} (set DEPLOYTRACE_DEBUG=1 for details)", 1
        )
    # Click returns the exit code of `--help` and friends instead of raising.
    sys.exit(result if isinstance(result, int) else 0)
