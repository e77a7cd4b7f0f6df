"""`deploytrace attestation push|list|describe|verify`: the evidence store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from deploytrace.cli import lists, output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options
from deploytrace.vocabulary import VerificationStatus

VERIFY = {
    VerificationStatus.VERIFIED: "verified",
    VerificationStatus.UNVERIFIED: "unverified",
    VerificationStatus.INVALID: "INVALID",
}


def predicate(value: str) -> str:
    for prefix in ("https://", "http://"):
        value = value.removeprefix(prefix)
    return value


def project_of(item: dict[str, Any]) -> str:
    if not item.get("project"):
        return "-"
    version = item.get("project_version")
    return f"{item['project']}@{version}" if version else str(item["project"])


def verdict(v: dict[str, Any]) -> str:
    """`verified by key:release (sha256:…)`, or the status and why."""
    text = str(v["status"])
    if v.get("identity"):
        text += f" by {v['identity']}"
    if v.get("key_fingerprint"):
        text += f" ({output.short_digest(v['key_fingerprint'])})"
    if v.get("reason"):
        text += f": {v['reason']}"
    return text


_COLUMNS: list[output.Column] = [
    ("DIGEST", lambda a: output.short_digest(a["digest"]), 9),
    ("PREDICATE", lambda a: predicate(a["predicate_type"]), 6),
    ("SUBJECTS", lambda a: str(a["subjects_count"]), 4),
    ("PROJECT", project_of, 7),
    ("WORKFLOW", lambda a: a["workflow"] or "-", 5),
    ("VERIFICATION", lambda a: output.status(VERIFY[a["verification"]["status"]]), 8),
    ("CREATED", lambda a: output.relative(a["created_at"]), 3),
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
        output.table(items, _COLUMNS, "no attestations")


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
    params = {"project": project, "workflow": workflow, "subject": subject}
    lists.show(state, "/v1/attestations", _COLUMNS, "no attestations", params=params, limit=limit)


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
        ("project", project_of(found)),
        ("verification", verdict({**v, "reason": None})),
    ]
    if v["reason"]:
        pairs.append(("reason", v["reason"]))
    pairs.append(("created", f"{found['created_at']} ({output.relative(found['created_at'])})"))
    for ref in found["references"]:
        typed = f" {ref['material_type']}" if ref["material_type"] else ""
        pairs.append((f"{ref['role']}{typed}", f"{ref['digest']} {ref['name'] or ''}".rstrip()))
    output.fields(pairs)


@attestation.command(
    help="Check a stored attestation's signatures again, against what is trusted now. "
    "The stored verdict (given at push time) is not changed."
)
@click.argument("digest")
@click.option("--key", default=None, help="Fail (exit 7) unless this trusted key verifies it now.")
@common_options
def verify(state: State, digest: str, key: str | None) -> None:
    found = state.client.call(
        "GET", f"/v1/attestations/{segment(digest)}/verification", params={"key": key}
    )
    if state.json:
        output.emit_json(found)
        return
    output.fields(
        [
            ("digest", found["digest"]),
            ("at push time", verdict(found["stored"])),
            ("now", verdict(found["current"])),
        ]
    )
