"""`deploytrace policy ...`: the policy store, attachments, and the gate as a dry run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from deploytrace.cli import lists, output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options

REFUSED = 8  # SPEC §9: refused by policy

_COLUMNS: list[output.Column] = [
    ("NAME", lambda p: p["name"], 10),
    ("VERSION", lambda p: str(p["version"]), 6),
    ("ATTACHED", lambda p: _attached(p["attachments"]), 9),
    ("KINDS", lambda p: ",".join(e["kind"] or "deploytrace" for e in p["entries"]), 4),
    ("DESCRIPTION", lambda p: p["description"] or "-", 5),
]


def _where(a: dict[str, Any]) -> str:
    place = a["logical_environment"]
    if a.get("environment"):
        place += f"@{a['environment']}"
    return f"{place} ({a['mode']})"


def _attached(attachments: list[dict[str, Any]]) -> str:
    return ", ".join(_where(a) for a in attachments) or "-"


def _show(state: State, policy: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(policy)
        return
    pairs = [
        ("name", policy["name"]),
        ("description", policy["description"] or "-"),
        ("version", str(policy["version"])),
        ("digest", policy["digest"]),
        (
            "entries",
            ", ".join(
                f"{e['kind'] or 'deploytrace input'} ({e['package']})" for e in policy["entries"]
            ),
        ),
        ("attached", _attached(policy["attachments"])),
    ]
    if "versions" in policy:
        pairs.append(
            (
                "versions",
                ", ".join(
                    f"v{v['version']} {output.relative(v['created_at'])}"
                    for v in policy["versions"]
                ),
            )
        )
    output.fields(pairs)


@click.group(name="policy", help="Policy gates: Chainloop-format Rego policies over the evidence.")
def policy() -> None:
    pass


@policy.command(help="Add a policy from a YAML file (- for stdin); new content: a new version.")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@common_options
def add(state: State, file: str) -> None:
    data = _stdin() if file == "-" else _read(file)
    added = state.client.call("POST", "/v1/policies", content=data, content_type="application/yaml")
    if state.json:
        output.emit_json(added)
    elif added["changed"]:
        output.line(f"added policy {added['name']} version {added['version']}")
    else:
        output.line(f"policy {added['name']} unchanged (version {added['version']})")


def _stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read() if stream is not None else sys.stdin.read().encode()


def _read(file: str) -> bytes:
    path = Path(file)
    if not path.is_file():
        raise click.BadParameter(f"{file}: no such file", param_hint="FILE")
    return path.read_bytes()


@policy.command(name="list", help="List policies and where they are attached.")
@common_options
def list_(state: State) -> None:
    lists.show(state, "/v1/policies", _COLUMNS, "no policies")


@policy.command(help="Show a policy, its versions and attachments.")
@click.argument("name")
@click.option("--content", is_flag=True, help="Print the latest document instead.")
@common_options
def describe(state: State, name: str, content: bool) -> None:
    detail = state.client.call("GET", f"/v1/policies/{segment(name)}")
    if content and not state.json:
        click.echo(detail["content"], nl=False)
        return
    _show(state, detail)


@policy.command(help="Remove a policy and its attachments.")
@click.argument("name")
@common_options
def remove(state: State, name: str) -> None:
    removed = state.client.call("DELETE", f"/v1/policies/{segment(name)}")
    if state.json:
        output.emit_json(removed)
    else:
        click.echo(f"removed policy {removed['name']}")


_LENV = click.option("--logical-env", "logical_env", required=True, help="Logical environment.")
_ENV = click.option("--env", default=None, help="Only this environment (default: every one).")


@policy.command(help="Gate a logical environment (or one environment of it) with a policy.")
@click.argument("name")
@_LENV
@_ENV
@click.option(
    "--mode",
    type=click.Choice(["enforce", "advisory"]),
    default="enforce",
    show_default=True,
    help="enforce refuses a violating deployment; advisory records it with the violations.",
)
@common_options
def attach(state: State, name: str, logical_env: str, env: str | None, mode: str) -> None:
    body = {"logical_environment": logical_env, "environment": env, "mode": mode}
    path = f"/v1/policies/{segment(name)}/attachments"
    attached = state.client.call("POST", path, json_body=body)
    if state.json:
        output.emit_json(attached)
    else:
        click.echo(f"attached policy {name} to {_where(attached)}")


@policy.command(help="Stop gating a logical environment (or one environment) with a policy.")
@click.argument("name")
@_LENV
@_ENV
@common_options
def detach(state: State, name: str, logical_env: str, env: str | None) -> None:
    params = {"logical_environment": logical_env, "environment": env}
    detached = state.client.call(
        "DELETE", f"/v1/policies/{segment(name)}/attachments", params=params
    )
    if state.json:
        output.emit_json(detached)
    else:
        click.echo(f"detached policy {name} from {_where(detached)}")


@policy.command(help="Dry run: every attached policy's result for a deployment; exit 8 if refused.")
@click.option("--digest", required=True, help="The artifact's digest.")
@click.option("--kind", required=True, help="CONTAINER_IMAGE or HELM_CHART.")
@click.option("--env", required=True, help="Environment.")
@click.option("--logical-env", "logical_env", required=True, help="Logical environment.")
@click.option("--deployment-name", default=None, help="Deployment name the policies see.")
@click.option("--artifact-name", default=None, help="Artifact name (repository).")
@click.option("--artifact-version", default=None, help="Artifact version (tag).")
@common_options
def evaluate(
    state: State,
    digest: str,
    kind: str,
    env: str,
    logical_env: str,
    deployment_name: str | None,
    artifact_name: str | None,
    artifact_version: str | None,
) -> None:
    body = {
        "digest": digest,
        "kind": kind,
        "environment": env,
        "logical_environment": logical_env,
        "deployment_name": deployment_name,
        "artifact_name": artifact_name,
        "artifact_version": artifact_version,
    }
    decision = state.client.call("POST", "/v1/policies/evaluate", json_body=body)
    if state.json:
        output.emit_json(decision)
    else:
        _show_decision(decision)
    if decision["enforced"]:
        enforced = [
            f"{r['policy']} v{r['version']}: {v}"
            for r in decision["results"]
            if r["mode"] == "enforce" and r["status"] == "violated"
            for v in r["violations"]
        ]
        refused = output.safe("; ".join(enforced))
        sys.stderr.write(f"error: would be refused by policy: {refused}\n")
        raise click.exceptions.Exit(REFUSED)


def _show_decision(decision: dict[str, Any]) -> None:
    if not decision["results"]:
        click.echo("no policy is attached here")
        return
    colour = output.colour_enabled()
    for r in decision["results"]:
        verdict = output.render(output.status(output.safe(r["status"])), colour)
        click.echo(output.safe(f"{r['policy']} v{r['version']} ({r['mode']}): ") + verdict)
        # Messages are written by policy authors (and Rego over pushed evidence).
        for message in r["violations"]:
            output.line(f"  - {message}")
        for reason in r["skip_reasons"]:
            output.line(f"  skipped: {reason}")
