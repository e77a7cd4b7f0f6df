"""`deploytrace environment ...` and `deploytrace logical-environment ...`."""

from __future__ import annotations

from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options
from deploytrace.errors import InvalidInput

_COLUMNS: list[output.Column] = [
    ("NAME", lambda e: e["name"], 9),
    ("DESCRIPTION", lambda e: e["description"] or "-", 5),
    ("CREATED", lambda e: output.relative(e["created_at"]), 3),
]


def _show(state: State, env: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(env)
        return
    output.fields(
        [
            ("name", env["name"]),
            ("description", env["description"] or "-"),
            ("created_at", env["created_at"]),
            ("updated_at", env["updated_at"]),
        ]
    )


def _name(option: str | None, argument: str | None) -> str:
    if option and argument and option != argument:
        raise click.UsageError("give the name once: as --name or as an argument")
    name = option or argument
    if not name:
        raise click.UsageError("missing --name")
    return name


def _group(group_name: str, path: str, noun: str, *, updatable: bool) -> click.Group:
    @click.group(name=group_name, help=f"Manage {noun}s.")
    def group() -> None:
        pass

    name_option = click.option("--name", "name_opt", metavar="NAME", help=f"The {noun}'s name.")
    name_argument = click.argument("name_arg", metavar="[NAME]", required=False)

    @group.command(help=f"Create a {noun}.")
    @name_option
    @name_argument
    @click.option("--description", default=None, help="Free text.")
    @common_options
    def create(
        state: State, name_opt: str | None, name_arg: str | None, description: str | None
    ) -> None:
        body = {"name": _name(name_opt, name_arg), "description": description}
        _show(state, state.client.call("POST", path, json_body=body))

    @group.command(name="list", help=f"List {noun}s.")
    @common_options
    def list_(state: State) -> None:
        items = state.client.pages(path, {})
        if state.json:
            output.emit_json(items)
        else:
            output.table(items, _COLUMNS, f"no {noun}s")

    @group.command(help=f"Show one {noun}.")
    @name_option
    @name_argument
    @common_options
    def describe(state: State, name_opt: str | None, name_arg: str | None) -> None:
        name = _name(name_opt, name_arg)
        _show(state, state.client.call("GET", f"{path}/{segment(name)}"))

    if updatable:

        @group.command(help=f"Change a {noun}'s description.")
        @name_option
        @name_argument
        @click.option("--description", default=None, help="New description.")
        @common_options
        def update(
            state: State, name_opt: str | None, name_arg: str | None, description: str | None
        ) -> None:
            name = _name(name_opt, name_arg)
            if description is None:
                raise InvalidInput("nothing to update: pass --description")
            body = {"description": description}
            _show(state, state.client.call("PATCH", f"{path}/{segment(name)}", json_body=body))

    @group.command(help=f"Delete a {noun} (refused while artifacts are deployed in it).")
    @name_option
    @name_argument
    @common_options
    def delete(state: State, name_opt: str | None, name_arg: str | None) -> None:
        name = _name(name_opt, name_arg)
        deleted = state.client.call("DELETE", f"{path}/{segment(name)}")
        if state.json:
            output.emit_json(deleted)
        else:
            click.echo(f"deleted {noun} {deleted['name']}")

    return group


environment = _group("environment", "/v1/environments", "environment", updatable=True)
logical_environment = _group(
    "logical-environment", "/v1/logical-environments", "logical environment", updatable=False
)
