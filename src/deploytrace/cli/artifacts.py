"""`deploytrace artifact describe`: trace an artifact to its evidence and deployments."""

from __future__ import annotations

from typing import Any

import click

from deploytrace import digests, errors
from deploytrace.cli import output
from deploytrace.cli.attestations import VERIFY, predicate, project_of
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options
from deploytrace.cli.registry import registry_credentials, registry_options
from deploytrace.cli.search import search

_EVIDENCE_COLUMNS: list[output.Column] = [
    ("ATTESTATION", lambda e: output.short_digest(e["digest"]), 9),
    ("ROLE", lambda e: e["role"] + (f":{e['material_type']}" if e["material_type"] else ""), 8),
    ("PREDICATE", lambda e: predicate(e["predicate_type"]), 6),
    ("PROJECT", project_of, 7),
    ("WORKFLOW", lambda e: e["workflow"] or "-", 5),
    ("VERIFICATION", lambda e: output.status(VERIFY[e["verification"]["status"]]), 7),
    ("CREATED", lambda e: output.relative(e["created_at"]), 3),
]


def is_reference(text: str) -> bool:
    """Whether `artifact describe` resolves `text` through a registry, decided by its form.

    A known hash's `ALGORITHM:VALUE` is a digest. A value with `/` or `@`, or
    without `:`, is an OCI reference (`ghcr.io/acme/api:1.2`, `nginx`,
    `app@sha256:…`). Anything else (`gce_image_id:123`) is a digest of another
    algorithm, looked up as it is.
    """
    text = text.strip()
    if digests.is_hash(text):
        return False
    return "/" in text or "@" in text or ":" not in text


@click.group(help="Trace artifacts to their evidence and deployments.")
def artifact() -> None:
    pass


@artifact.command(
    name="describe",
    help="Where an artifact runs and ran, and the evidence behind it. ARTIFACT is a digest "
    "(sha256:…) or an OCI reference (ghcr.io/acme/api:1.2), resolved through its registry.",
)
@click.argument("artifact_ref", metavar="ARTIFACT")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many of each."
)
@registry_options
@common_options
def describe(
    state: State,
    artifact_ref: str,
    limit: int | None,
    registry_server: str | None,
    registry_username: str | None,
    registry_password: str | None,
    registry_password_stdin: bool,
    registry_ca_file: str | None,
) -> None:
    reference = None
    digest = artifact_ref
    if is_reference(artifact_ref):
        from deploytrace.oci import resolve

        reference = artifact_ref
        digest = resolve(
            artifact_ref,
            kind=None,
            credentials=registry_credentials(
                registry_server, registry_username, registry_password, registry_password_stdin
            ),
            ca_file=registry_ca_file,
        ).digest
    try:
        result = _trace(state, digest, limit)
    except errors.NotFound as error:
        if reference is None and ":" in digest and not digests.is_hash(digest):
            raise errors.NotFound(
                f"{error.message} (an OCI reference needs its repository path, "
                f"e.g. docker.io/library/{digest.strip()})"
            ) from None
        raise
    if reference is not None:
        result = {"reference": reference, **result}
    if state.json:
        output.emit_json(result)
        return
    _show(result)


def _trace(state: State, digest: str, limit: int | None) -> dict[str, Any]:
    """Every page of the trace, up to `limit` attestations and `limit` deployments."""
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
    return {
        "digest": first["digest"],
        "attestations": attestations,
        "workflows": first["workflows"],
        "projects": first["projects"],
        "project_versions": first["project_versions"],
        "deployments": deployments,
    }


def _show(result: dict[str, Any]) -> None:
    from deploytrace.cli import deployments

    versions = ", ".join(f"{pv['project']}@{pv['version']}" for pv in result["project_versions"])
    pairs = [("reference", result["reference"])] if "reference" in result else []
    pairs += [
        ("digest", result["digest"]),
        ("workflows", ", ".join(result["workflows"]) or "-"),
        ("projects", ", ".join(result["projects"]) or "-"),
        ("project versions", versions or "-"),
    ]
    output.fields(pairs)
    click.echo("\nattestations")
    output.table(result["attestations"], _EVIDENCE_COLUMNS, "  (none)")
    click.echo("\ndeployments")
    deployments.table(result["deployments"], "  (none)", history=True)


artifact.add_command(search)
