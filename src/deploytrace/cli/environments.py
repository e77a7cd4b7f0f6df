"""`deploytrace environment ...` and `deploytrace logical-environment ...`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from deploytrace.cli import lists, output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options

_COLUMNS: list[output.Column] = [
    ("NAME", lambda e: e["name"], 9),
    ("DESCRIPTION", lambda e: e["description"] or "-", 5),
    ("STALE AFTER", lambda e: e.get("stale_after") or "-", 6),
    ("CREATED", lambda e: output.relative(e["created_at"]), 3),
]
_LOGICAL_COLUMNS: list[output.Column] = [
    ("ORDER", lambda e: str(e["position"]) if e.get("position") else "-", 8),
    ("NAME", lambda e: e["name"], 9),
    ("DESCRIPTION", lambda e: e["description"] or "-", 5),
    ("CREATED", lambda e: output.relative(e["created_at"]), 3),
]


def _show(state: State, env: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(env)
        return
    pairs = [("name", env["name"]), ("description", env["description"] or "-")]
    if "stale_after" in env:
        pairs.append(("stale after", env["stale_after"] or "never"))
    if "position" in env:
        pairs.append(("promotion order", str(env["position"] or "outside the order")))
    pairs += [("created_at", env["created_at"]), ("updated_at", env["updated_at"])]
    for scope in env.get("snapshots") or ():
        pairs.append(
            (
                f"snapshot {scope['logical_environment']}/{scope['scope']}",
                f"{scope['observed_at']} ({output.relative(scope['observed_at'])})",
            )
        )
    for workload in env.get("unattested") or ():
        what = workload.get("digest") or workload["reason"]
        pairs.append(
            (
                "running without evidence",
                f"{workload['logical_environment']}/{workload['deployment_name']} {what}",
            )
        )
    output.fields(pairs)


def _name(option: str | None, argument: str | None) -> str:
    if option and argument and option != argument:
        raise click.UsageError("give the name once: as --name or as an argument")
    name = option or argument
    if not name:
        raise click.UsageError("missing --name")
    return name


_NAME_OPTION = click.option("--name", "name_opt", metavar="NAME", help="Its name.")
_NAME_ARGUMENT = click.argument("name_arg", metavar="[NAME]", required=False)


def _compose(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


def _common_commands(
    group: click.Group, path: str, noun: str, columns: list[output.Column]
) -> None:
    @group.command(name="list", help=f"List {noun}s.")
    @common_options
    def list_(state: State) -> None:
        lists.show(state, path, columns, f"no {noun}s")

    @group.command(help=f"Show one {noun}.")
    @_NAME_OPTION
    @_NAME_ARGUMENT
    @common_options
    def describe(state: State, name_opt: str | None, name_arg: str | None) -> None:
        name = _name(name_opt, name_arg)
        _show(state, state.client.call("GET", f"{path}/{segment(name)}"))

    @group.command(
        help=f"Delete {noun_article(noun)} (refused while artifacts are deployed in it)."
    )
    @_NAME_OPTION
    @_NAME_ARGUMENT
    @common_options
    def delete(state: State, name_opt: str | None, name_arg: str | None) -> None:
        name = _name(name_opt, name_arg)
        deleted = state.client.call("DELETE", f"{path}/{segment(name)}")
        if state.json:
            output.emit_json(deleted)
        else:
            click.echo(f"deleted {noun} {deleted['name']}")


def noun_article(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


_STALE_AFTER = click.option(
    "--stale-after",
    default=None,
    metavar="DURATION",
    help="A deployed record not seen for this long is stale (15m, 24h; none clears).",
)


@click.group(help="Infrastructure targets (clusters, servers) where artifacts run.")
def environment() -> None:
    pass


@environment.command(name="create", help="Create an environment.")
@_compose(_NAME_OPTION, _NAME_ARGUMENT)
@click.option("--description", default=None, help="Free text.")
@_STALE_AFTER
@common_options
def create_environment(
    state: State,
    name_opt: str | None,
    name_arg: str | None,
    description: str | None,
    stale_after: str | None,
) -> None:
    body = {
        "name": _name(name_opt, name_arg),
        "description": description,
        "stale_after": stale_after,
    }
    _show(state, state.client.call("POST", "/v1/environments", json_body=body))


@environment.command(name="update", help="Change an environment's description or stale-after.")
@_compose(_NAME_OPTION, _NAME_ARGUMENT)
@click.option("--description", default=None, help="New description.")
@_STALE_AFTER
@common_options
def update_environment(
    state: State,
    name_opt: str | None,
    name_arg: str | None,
    description: str | None,
    stale_after: str | None,
) -> None:
    name = _name(name_opt, name_arg)
    if description is None and stale_after is None:
        raise click.UsageError("nothing to update: pass --description or --stale-after")
    body = {"description": description, "stale_after": stale_after}
    body = {k: v for k, v in body.items() if v is not None}
    path = f"/v1/environments/{segment(name)}"
    _show(state, state.client.call("PATCH", path, json_body=body))


_common_commands(environment, "/v1/environments", "environment", _COLUMNS)


@click.group(
    name="logical-environment",
    help="Lifecycle stages (development < staging < production, and yours), in promotion order.",
)
def logical_environment() -> None:
    pass


@logical_environment.command(name="create", help="Create a logical environment.")
@_compose(_NAME_OPTION, _NAME_ARGUMENT)
@click.option("--description", default=None, help="Free text.")
@click.option(
    "--after",
    default=None,
    metavar="NAME",
    help="Place it right after this one in the promotion order (else it is outside the order).",
)
@common_options
def create_logical_environment(
    state: State,
    name_opt: str | None,
    name_arg: str | None,
    description: str | None,
    after: str | None,
) -> None:
    body = {"name": _name(name_opt, name_arg), "description": description, "after": after}
    _show(state, state.client.call("POST", "/v1/logical-environments", json_body=body))


_common_commands(
    logical_environment, "/v1/logical-environments", "logical environment", _LOGICAL_COLUMNS
)
