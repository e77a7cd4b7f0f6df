"""`deploytrace deployment record|list|describe`."""

from __future__ import annotations

from typing import Any

import click

from deploytrace.cli import output
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options
from deploytrace.cli.registry import registry_credentials as _registry_credentials

_KIND_SHORT = {"CONTAINER_IMAGE": "image", "HELM_CHART": "helm"}

_LIST_COLUMNS: list[output.Column] = [
    ("ID", lambda r: r["id"], 1),
    ("ENV", lambda r: r["environment"], 9),
    ("LOGICAL ENV", lambda r: r["logical_environment"], 9),
    ("DEPLOYMENT", lambda r: r["deployment_name"], 9),
    ("KIND", lambda r: str(_KIND_SHORT.get(r["kind"], r["kind"])), 6),
    ("VERSION", lambda r: r["artifact"]["version"] or "-", 5),
    ("DIGEST", lambda r: output.short_digest(r["artifact"]["digest"]), 8),
    ("STATUS", lambda r: r["status"], 8),
    ("LAST SEEN", lambda r: output.relative(r["last_seen_at"]), 4),
]


def list_columns() -> list[output.Column]:
    return _LIST_COLUMNS


def show_record(state: State, record: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(record)
        return
    artifact = record["artifact"]
    pairs = [
        ("id", record["id"]),
        ("environment", record["environment"]),
        ("logical environment", record["logical_environment"]),
        ("deployment name", record["deployment_name"]),
        ("kind", record["kind"]),
        ("digest", artifact["digest"]),
        ("artifact", artifact["name"] or "-"),
        ("version", artifact["version"] or "-"),
        ("status", record["status"]),
        ("created", f"{record['created_at']} ({output.relative(record['created_at'])})"),
        ("last seen", f"{record['last_seen_at']} ({output.relative(record['last_seen_at'])})"),
    ]
    if record.get("ended_at"):
        pairs.append(("ended", record["ended_at"]))
    if record.get("superseded_by"):
        pairs.append(("superseded by", record["superseded_by"]))
    if "action" in record:
        pairs.append(("action", record["action"]))
    evidence = record.get("evidence")
    if evidence is not None:
        versions = [f"{pv['project']}@{pv['version']}" for pv in evidence["project_versions"]]
        pairs += [
            ("workflows", ", ".join(evidence["workflows"]) or "-"),
            ("projects", ", ".join(evidence["projects"]) or "-"),
            ("project versions", ", ".join(versions) or "-"),
        ]
        for att in evidence["attestations"]:
            typed = f" {att['material_type']}" if att["material_type"] else ""
            pairs.append(
                (
                    f"attestation ({att['role']}{typed})",
                    f"{att['digest']} {att['predicate_type']} [{att['verification']['status']}]",
                )
            )
    output.fields(pairs)


@click.group(help="Record and list which artifact runs where.")
def deployment() -> None:
    pass


@deployment.command(help="Record that an artifact runs in a slot, or was decommissioned from it.")
@click.option("--env", "environment", required=True, help="Environment (infrastructure target).")
@click.option(
    "--logical-env", "logical_environment", required=True, help="Logical environment (stage)."
)
@click.option(
    "--deployment-name", required=True, help="Your name for the deployment, e.g. api-server."
)
@click.option("--kind", required=True, help="CONTAINER_IMAGE or HELM_CHART.")
@click.option(
    "--oci-ref", default=None, help="OCI reference (tag or digest), resolved through the registry."
)
@click.option("--digest", default=None, help="Artifact digest (sha256:... or sha512:...).")
@click.option("--status", default="deployed", show_default=True, help="deployed or decommissioned.")
@click.option("--artifact-name", default=None, help="Artifact name to keep with --digest.")
@click.option("--artifact-version", default=None, help="Artifact version to keep with --digest.")
@click.option("--registry-server", default=None, help="Registry host the credentials are for.")
@click.option("--registry-username", default=None, help="Registry user name.")
@click.option("--registry-password", default=None, help="Registry password or token.")
@click.option(
    "--registry-password-stdin", is_flag=True, help="Read the registry password from stdin."
)
@click.option(
    "--registry-ca-file", default=None, help="CA bundle for the registry's TLS certificate."
)
@common_options
def record(
    state: State,
    environment: str,
    logical_environment: str,
    deployment_name: str,
    kind: str,
    oci_ref: str | None,
    digest: str | None,
    status: str,
    artifact_name: str | None,
    artifact_version: str | None,
    registry_server: str | None,
    registry_username: str | None,
    registry_password: str | None,
    registry_password_stdin: bool,
    registry_ca_file: str | None,
) -> None:
    if (oci_ref is None) == (digest is None):
        raise click.UsageError("give exactly one of --oci-ref and --digest")
    if oci_ref is not None:
        if artifact_name or artifact_version:
            raise click.UsageError(
                "--artifact-name/--artifact-version go with --digest; --oci-ref sets them"
            )
        from deploytrace.oci import resolve
        from deploytrace.services.validation import kind as valid_kind

        resolved = resolve(
            oci_ref,
            kind=valid_kind(kind),
            credentials=_registry_credentials(
                registry_server, registry_username, registry_password, registry_password_stdin
            ),
            ca_file=registry_ca_file,
        )
        digest, artifact_name, artifact_version = resolved.digest, resolved.name, resolved.version
    body = {
        "environment": environment,
        "logical_environment": logical_environment,
        "deployment_name": deployment_name,
        "kind": kind,
        "digest": digest,
        "artifact_name": artifact_name,
        "artifact_version": artifact_version,
        "status": status,
    }
    show_record(state, state.client.call("POST", "/v1/deployments", json_body=body))


@deployment.command(
    name="list", help="List active deployments (newest first); --history adds past ones."
)
@click.option("--env", "environment", default=None, help="Only this environment.")
@click.option(
    "--logical-env", "logical_environment", default=None, help="Only this logical environment."
)
@click.option("--deployment-name", default=None, help="Only this deployment name.")
@click.option("--kind", default=None, help="Only this kind.")
@click.option("--digest", default=None, help="Only this artifact digest.")
@click.option("--history", is_flag=True, help="Include superseded and decommissioned records.")
@click.option("--project", default=None, help="Only artifacts attested in this project.")
@click.option(
    "--project-version", default=None, help="Only artifacts attested in this project version."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="At most this many records."
)
@common_options
def list_(
    state: State,
    environment: str | None,
    logical_environment: str | None,
    deployment_name: str | None,
    kind: str | None,
    digest: str | None,
    history: bool,
    project: str | None,
    project_version: str | None,
    limit: int | None,
) -> None:
    params = {
        "project": project,
        "project_version": project_version,
        "environment": environment,
        "logical_environment": logical_environment,
        "deployment_name": deployment_name,
        "kind": kind,
        "digest": digest,
        "history": history or None,
        "limit": min(limit, 500) if limit else 500,
    }
    items = state.client.pages("/v1/deployments", params, limit)
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, _LIST_COLUMNS, "no deployments" if history else "nothing deployed")


@deployment.command(help="Show one deployment record.")
@click.argument("record_id", metavar="ID")
@common_options
def describe(state: State, record_id: str) -> None:
    show_record(state, state.client.call("GET", f"/v1/deployments/{segment(record_id)}"))
