"""`deploytrace deployment diff`: what runs on one side and not (yet) on the other."""

from __future__ import annotations

from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.main import State, common_options


def _version(record: dict[str, Any] | None) -> str:
    if record is None:
        return "-"
    artifact = record["artifact"]
    return str(artifact["version"] or output.short_digest(artifact["digest"]))


def _behind(row: dict[str, Any]) -> str:
    if row["behind"] is None:
        return "?" if row["state"] == "different" else "-"
    return str(row["behind"])


def _state(row: dict[str, Any]) -> str:
    return str(row["state"]).replace("_", " ")


def columns(source: str, target: str, per_environment: bool) -> list[output.Column]:
    """The diff table; the two sides' columns are titled with their names."""
    found: list[output.Column] = [
        ("DEPLOYMENT", lambda r: r["deployment_name"], 9),
        ("KIND", lambda r: r["kind"], 2),
        (source.upper(), lambda r: _version(r["from"]), 8),
        (target.upper(), lambda r: _version(r["to"]), 8),
        ("STATE", _state, 7),
        ("BEHIND", _behind, 7),
        ("SINCE", lambda r: output.relative(r["since"]), 4),
    ]
    if per_environment:
        found.insert(0, ("ENV", lambda r: r["environment"], 6))
    return found


@click.command(
    help=(
        "Compare two logical environments within each environment (--from staging "
        "--to production [--env E]), or two environments within one logical environment "
        "(--from-env E1 --to-env E2 --logical-env L). Most behind first; BEHIND counts the "
        "digests the --from side deployed after the one the --to side runs ('?': the --from "
        "side never ran it)."
    )
)
@click.option("--from", "from_", default=None, metavar="LOGICAL_ENV", help="The earlier stage.")
@click.option("--to", default=None, metavar="LOGICAL_ENV", help="The later stage.")
@click.option("--env", "environment", default=None, help="With --from/--to: only this environment.")
@click.option("--from-env", default=None, metavar="ENV", help="The environment to compare from.")
@click.option("--to-env", default=None, metavar="ENV", help="The environment to compare to.")
@click.option(
    "--logical-env",
    "logical_environment",
    default=None,
    help="With --from-env/--to-env: the logical environment compared.",
)
@common_options
def diff(
    state: State,
    from_: str | None,
    to: str | None,
    environment: str | None,
    from_env: str | None,
    to_env: str | None,
    logical_environment: str | None,
) -> None:
    by_environment = any(v is not None for v in (from_env, to_env, logical_environment))
    if by_environment:
        if from_ is not None or to is not None or environment is not None:
            raise click.UsageError(
                "compare either --from/--to [--env] or --from-env/--to-env/--logical-env"
            )
        if from_env is None or to_env is None or logical_environment is None:
            raise click.UsageError(
                "comparing environments needs --from-env, --to-env and --logical-env"
            )
        params: dict[str, str | None] = {
            "from_env": from_env,
            "to_env": to_env,
            "logical_environment": logical_environment,
        }
        source, target = from_env, to_env
    else:
        if from_ is None or to is None:
            raise click.UsageError("give --from and --to (or --from-env, --to-env, --logical-env)")
        params = {"from": from_, "to": to, "environment": environment}
        source, target = from_, to
    items = state.client.call("GET", "/v1/diff", params=params)["items"]
    if state.json:
        output.emit_json(items)
        return
    output.table(
        items,
        columns(source, target, per_environment=not by_environment),
        f"nothing runs in {source} or {target}",
        given={"ENV"} if environment else (),
    )
