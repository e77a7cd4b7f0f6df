"""`deploytrace attestation|artifact|trust ...`: the evidence store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options
from deploytrace.cli.search import search

_VERIFY = {"verified": "verified", "unverified": "unverified", "invalid": "INVALID"}


def _predicate(value: str) -> str:
    for prefix in ("https://", "http://"):
        value = value.removeprefix(prefix)
    return value


def _project(item: dict[str, Any]) -> str:
    if not item.get("project"):
        return "-"
    version = item.get("project_version")
    return f"{item['project']}@{version}" if version else str(item["project"])


_ATTESTATION_COLUMNS: list[output.Column] = [
    ("DIGEST", lambda a: output.short_digest(a["digest"]), 9),
    ("PREDICATE", lambda a: _predicate(a["predicate_type"]), 6),
    ("SUBJECTS", lambda a: str(len(a["subjects"])), 4),
    ("PROJECT", _project, 7),
    ("WORKFLOW", lambda a: a["workflow"] or "-", 5),
    ("VERIFICATION", lambda a: _VERIFY[a["verification"]["status"]], 8),
    ("CREATED", lambda a: output.relative(a["created_at"]), 3),
]

_EVIDENCE_COLUMNS: list[output.Column] = [
    ("ATTESTATION", lambda e: output.short_digest(e["digest"]), 9),
    ("ROLE", lambda e: e["role"] + (f":{e['material_type']}" if e["material_type"] else ""), 8),
    ("PREDICATE", lambda e: _predicate(e["predicate_type"]), 6),
    ("PROJECT", _project, 7),
    ("WORKFLOW", lambda e: e["workflow"] or "-", 5),
    ("VERIFICATION", lambda e: _VERIFY[e["verification"]["status"]], 7),
    ("CREATED", lambda e: output.relative(e["created_at"]), 3),
]


@click.group(help="Push and inspect attestations (in-toto evidence).")
def attestation() -> None:
    pass


@attestation.command(
    help="Store attestation files: in-toto statements, DSSE, Sigstore bundles, JSON Lines."
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--workflow", default=None, help="Workflow, when the attestation does not name one.")
@click.option("--project", default=None, help="Project, when the attestation does not name one.")
@click.option("--project-version", default=None, help="Project version (needs a project).")
@click.option(
    "--key", default=None, help="Refuse unless this trusted key signed every attestation."
)
@common_options
def push(
    state: State,
    files: tuple[str, ...],
    workflow: str | None,
    project: str | None,
    project_version: str | None,
    key: str | None,
) -> None:
    params = {
        "workflow": workflow,
        "project": project,
        "project_version": project_version,
        "key": key,
    }
    contents = [Path(f).read_bytes() for f in files]
    if len(contents) > 1:
        # All or nothing: check every file before storing any.
        for data in contents:
            state.client.call(
                "POST",
                "/v1/attestations",
                params={**params, "dry_run": True},
                content=data,
                content_type="application/octet-stream",
            )
    items: list[dict[str, Any]] = []
    for data in contents:
        answer = state.client.call(
            "POST",
            "/v1/attestations",
            params=params,
            content=data,
            content_type="application/octet-stream",
        )
        items.extend(answer["items"])
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _ATTESTATION_COLUMNS, "no attestations")


@attestation.command(name="list", help="List attestations, newest first.")
@click.option("--project", default=None, help="Only this project's.")
@click.option("--workflow", default=None, help="Only this workflow's.")
@click.option(
    "--subject", default=None, help="Only those naming this digest (subject or material)."
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many.")
@common_options
def list_(
    state: State,
    project: str | None,
    workflow: str | None,
    subject: str | None,
    limit: int | None,
) -> None:
    params = {
        "project": project,
        "workflow": workflow,
        "subject": subject,
        "limit": min(limit, 500) if limit else 500,
    }
    items = state.client.pages("/v1/attestations", params, limit)
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _ATTESTATION_COLUMNS, "no attestations")


@attestation.command(help="Show one attestation; --content prints its stored bytes.")
@click.argument("digest")
@click.option("--content", is_flag=True, help="Write the attestation's bytes, exactly as stored.")
@common_options
def describe(state: State, digest: str, content: bool) -> None:
    if content:
        path = f"/v1/attestations/{segment(digest)}/content"
        data = state.client.call_raw("GET", path)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    found = state.client.call("GET", f"/v1/attestations/{segment(digest)}")
    if state.json:
        output.emit_json(found)
        return
    v = found["verification"]
    pairs = [
        ("digest", found["digest"]),
        ("format", found["format"] + (f" ({found['media_type']})" if found["media_type"] else "")),
        ("predicate type", found["predicate_type"]),
        ("workflow", found["workflow"] or "-"),
        ("project", _project(found)),
        ("verification", v["status"] + (f" by {v['identity']}" if v["identity"] else "")),
    ]
    if v["reason"]:
        pairs.append(("reason", v["reason"]))
    pairs.append(("created", f"{found['created_at']} ({output.relative(found['created_at'])})"))
    for ref in found["references"]:
        typed = f" {ref['material_type']}" if ref["material_type"] else ""
        pairs.append((f"{ref['role']}{typed}", f"{ref['digest']} {ref['name'] or ''}".rstrip()))
    output.fields(pairs)


@click.group(help="Trace artifacts to their evidence and deployments.")
def artifact() -> None:
    pass


artifact.add_command(search)


@artifact.command(
    name="describe", help="Where an artifact runs and ran, and the evidence behind it."
)
@click.argument("digest")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many of each."
)
@common_options
def artifact_describe(state: State, digest: str, limit: int | None) -> None:
    path = f"/v1/artifacts/{segment(digest)}"
    page_size = min(limit, 500) if limit else 500
    first = state.client.call("GET", path, params={"limit": page_size})
    attestations, deployments = first["attestations"], first["deployments"]
    a_next, d_next = first["attestations_next_cursor"], first["deployments_next_cursor"]
    while (a_next or d_next) and (
        limit is None or len(attestations) < limit or len(deployments) < limit
    ):
        page = state.client.call(
            "GET",
            path,
            params={
                "limit": page_size,
                "attestations_cursor": a_next,
                "deployments_cursor": d_next,
            },
        )
        if a_next:
            attestations += page["attestations"]
            a_next = page["attestations_next_cursor"]
        if d_next:
            deployments += page["deployments"]
            d_next = page["deployments_next_cursor"]
    if limit is not None:
        attestations, deployments = attestations[:limit], deployments[:limit]
    result = {
        "digest": first["digest"],
        "attestations": attestations,
        "workflows": first["workflows"],
        "projects": first["projects"],
        "project_versions": first["project_versions"],
        "deployments": deployments,
    }
    if state.json:
        output.emit_json(result)
        return
    from deploytrace.cli.deployments import list_columns

    versions = ", ".join(f"{pv['project']}@{pv['version']}" for pv in result["project_versions"])
    output.fields(
        [
            ("digest", result["digest"]),
            ("workflows", ", ".join(result["workflows"]) or "-"),
            ("projects", ", ".join(result["projects"]) or "-"),
            ("project versions", versions or "-"),
        ]
    )
    click.echo("\nattestations")
    output.table(attestations, _EVIDENCE_COLUMNS, "  (none)")
    click.echo("\ndeployments")
    output.table(deployments, list_columns(), "  (none)")


@click.group(help="Keys and Sigstore roots this organization trusts for signatures.")
def trust() -> None:
    pass


_TRUST_COLUMNS: list[output.Column] = [
    ("NAME", lambda t: t["name"] + (" (built in)" if t["builtin"] else ""), 9),
    ("KIND", lambda t: t["kind"], 8),
    ("FINGERPRINT", lambda t: output.short_digest(t["fingerprint"]), 6),
    ("ADDED", lambda t: output.relative(t["created_at"]), 4),
]


def _show_trust(state: State, entry: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(entry)
    else:
        click.echo(f"trusted {entry['kind']} {entry['name']} ({entry['fingerprint']})")


@trust.command(
    name="add-key", help="Trust a public key (PEM: ECDSA, RSA, Ed25519) for DSSE signatures."
)
@click.argument("pem", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="A name for the key (DNS-1123 label).")
@common_options
def add_key(state: State, pem: str, name: str) -> None:
    text = Path(pem).read_bytes().decode("utf-8", errors="replace")
    _show_trust(
        state, state.client.call("POST", "/v1/trust/keys", json_body={"name": name, "pem": text})
    )


@trust.command(name="add-root", help="Trust a Sigstore instance by its trusted_root.json.")
@click.argument("trusted_root", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="A name for the root (DNS-1123 label).")
@common_options
def add_root(state: State, trusted_root: str, name: str) -> None:
    text = Path(trusted_root).read_bytes().decode("utf-8", errors="replace")
    body = {"name": name, "trusted_root": text}
    _show_trust(state, state.client.call("POST", "/v1/trust/roots", json_body=body))


@trust.command(name="list", help="List trusted keys and roots.")
@common_options
def trust_list(state: State) -> None:
    items = state.client.call("GET", "/v1/trust")["items"]
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _TRUST_COLUMNS, "nothing trusted")


@trust.command(name="remove", help="Stop trusting a key or root.")
@click.argument("name")
@common_options
def remove(state: State, name: str) -> None:
    state.client.call("DELETE", f"/v1/trust/{segment(name)}")
    if state.json:
        output.emit_json({"name": name, "removed": True})
    else:
        click.echo(f"removed {name}")
