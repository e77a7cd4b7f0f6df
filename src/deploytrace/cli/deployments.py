"""`deploytrace deployment record|list|describe`."""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import Any

import click

from deploytrace.cli import lists, output
from deploytrace.cli.ci import ci_run
from deploytrace.cli.client import segment
from deploytrace.cli.diff import diff
from deploytrace.cli.main import State, common_options
from deploytrace.cli.registry import registry_credentials as _registry_credentials
from deploytrace.cli.sync import sync


def _status(record: dict[str, Any]) -> str:
    if record.get("stale"):
        return output.status("STALE")
    reason = record.get("ended_reason")
    if reason in ("absent", "replaced"):
        return output.status(f"{record['status']} ({reason})")
    return output.status(str(record["status"]))


def _flags(record: dict[str, Any]) -> str:
    marks = []
    if (record.get("policy") or {}).get("status") == "violated":
        marks.append("policy violated")
    if record.get("promotion"):
        marks.append(f"skipped {record['promotion']['skipped']}")
    style = "red" if len(marks) > 1 or "policy violated" in marks else "yellow"
    return output.paint(", ".join(marks), style) if marks else "-"


def _id(record: dict[str, Any]) -> str:
    # Filled in per table by `_with_short_ids`: the shortest prefix that tells the
    # rows apart, which `deployment describe` accepts back.
    return str(record.get("_short_id") or record["id"][:8])


# Priorities (10 = kept longest) decide what an 80-column terminal keeps: which
# deployment, what version, in what state, where. KIND is nearly always the same;
# the digest is the version's fingerprint, wanted when there is no version.
_LIST_COLUMNS: list[output.Column] = [
    ("ID", _id, 6),
    ("ENV", lambda r: r["environment"], 8),
    ("LOGICAL ENV", lambda r: r["logical_environment"], 8),
    ("DEPLOYMENT", lambda r: r["deployment_name"], 10),
    ("KIND", lambda r: r["kind"], 2),
    ("VERSION", lambda r: r["artifact"]["version"] or "-", 9),
    ("DIGEST", lambda r: output.short_digest(r["artifact"]["digest"]), 5),
    ("STATUS", _status, 9),
    ("LAST SEEN", lambda r: output.relative(r["last_seen_at"]), 4),
    ("NOTES", _flags, 7),
]

_HISTORY_COLUMNS: list[output.Column] = [
    *_LIST_COLUMNS[:8],
    ("DEPLOYED", lambda r: output.relative(r["created_at"]), 7),
    ("ENDED", lambda r: output.relative(r["ended_at"]), 7),
    ("NOTES", _flags, 6),
]


def _with_short_ids(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    short = output.short_ids([r["id"] for r in records])
    return [{**r, "_short_id": short[r["id"]]} for r in records]


def table(
    records: list[dict[str, Any]], empty: str, *, history: bool = False, given: Collection[str] = ()
) -> None:
    """Records as a table whose ID column can be pasted back into `deployment describe`."""
    columns = _HISTORY_COLUMNS if history else _LIST_COLUMNS
    output.table(_with_short_ids(records), columns, empty, given=given)


def _version(record: dict[str, Any]) -> str:
    artifact = record["artifact"]
    return str(artifact["version"] or output.short_digest(artifact["digest"]))


def summary(record: dict[str, Any]) -> str:
    """One line saying what a report did, e.g. `api-server: v1.0.0 → v1.1.0`."""
    name = record["deployment_name"]
    where = f"{record['environment']}/{record['logical_environment']}"
    action = record.get("action")
    previous = record.get("previous")
    if action == "superseded_previous" and previous:
        before = previous["version"] or output.short_digest(previous["digest"])
        return f"{name}: {before} → {_version(record)} in {where}"
    if action == "created":
        return f"{name}: {_version(record)} deployed in {where}"
    if action == "heartbeat":
        beats = record["heartbeats"]
        return f"{name}: {_version(record)} still running in {where} (heartbeat {beats})"
    if action in ("decommissioned", "unchanged"):
        return f"{name}: {_version(record)} decommissioned from {where}"
    return f"{name}: {_version(record)} in {where}"


def show_record(state: State, record: dict[str, Any]) -> None:
    if state.json:
        output.emit_json(record)
        return
    if "action" in record:
        output.line(summary(record))
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
        ("status", _status(record)),
        ("created", f"{record['created_at']} ({output.relative(record['created_at'])})"),
        ("last seen", f"{record['last_seen_at']} ({output.relative(record['last_seen_at'])})"),
        ("heartbeats", str(record["heartbeats"])),
    ]
    if record.get("ended_at"):
        pairs.append(("ended", f"{record['ended_at']} ({record.get('ended_reason') or '-'})"))
    if record.get("superseded_by"):
        pairs.append(("superseded by", record["superseded_by"]))
    if record.get("scope"):
        pairs.append(("scope", record["scope"]))
    reported = record.get("reported_by") or {}
    ci = reported.get("ci")
    pairs.append(("reported by", reported.get("token") or "-"))
    if ci:
        pairs.append(("ci run", ci.get("run_url") or ci.get("provider")))
    if record.get("promotion"):
        pairs.append(("promotion", f"skipped {record['promotion']['skipped']}"))
    policy = record.get("policy") or {}
    pairs.append(("policy", output.status(str(policy.get("status", "none")))))
    for violation in policy.get("violations") or ():
        pairs.append(("  violation", f"{violation.get('policy')}: {violation.get('message')}"))
    if policy.get("override"):
        override = policy["override"]
        pairs.append(("  override", f"by {override.get('by')}: {override.get('reason')}"))
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
@click.option(
    "--digest",
    default=None,
    help="Artifact digest (sha256:...), or a unique prefix (8+ hex digits) of an attested one.",
)
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
@click.option(
    "--observed-at",
    default=None,
    metavar="TIME",
    help="When it was seen running (RFC 3339); default: now. Older than the slot knows: refused.",
)
@click.option(
    "--override-reason",
    default=None,
    metavar="TEXT",
    help="Admins: record despite an enforced policy, saying why (kept and audited).",
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
    observed_at: str | None,
    override_reason: str | None,
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
        "observed_at": observed_at,
        "ci": ci_run(os.environ),
        "override_reason": override_reason,
    }
    body = {k: v for k, v in body.items() if v is not None}
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
@click.option(
    "--digest", default=None, help="Only this artifact digest (or a unique prefix, 8+ hex digits)."
)
@click.option("--history", is_flag=True, help="Include superseded and decommissioned records.")
@click.option("--project", default=None, help="Only artifacts attested in this project.")
@click.option(
    "--project-version", default=None, help="Only artifacts attested in this project version."
)
@click.option(
    "--at", default=None, metavar="TIME", help="What was deployed at this instant (RFC 3339)."
)
@click.option("--stale", is_flag=True, help="Only deployed records not seen for too long.")
@click.option(
    "--skipped-promotion",
    is_flag=True,
    help="Only records whose digest skipped the previous logical environment.",
)
@click.option(
    "--unattested",
    is_flag=True,
    help="List workloads running without evidence (from snapshots) instead of records.",
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
    at: str | None,
    stale: bool,
    skipped_promotion: bool,
    unattested: bool,
    limit: int | None,
) -> None:
    if unattested:
        _list_unattested(state, environment, logical_environment, limit)
        return
    params = {
        "project": project,
        "project_version": project_version,
        "environment": environment,
        "logical_environment": logical_environment,
        "deployment_name": deployment_name,
        "kind": kind,
        "digest": digest,
        "history": history or None,
        "at": at,
        "stale": stale or None,
        "skipped_promotion": skipped_promotion or None,
    }
    items = lists.fetch(state, "/v1/deployments", params, limit)
    if state.json:
        output.emit_json(items)
        return
    empty = "no deployments" if history else "nothing deployed"
    if at:
        empty = f"nothing was deployed at {at}"
    filters = {
        "ENV": environment,
        "LOGICAL ENV": logical_environment,
        "DEPLOYMENT": deployment_name,
        "KIND": kind,
        "DIGEST": digest,
    }
    table(items, empty, history=history, given={k for k, v in filters.items() if v})


@deployment.command(help="Show one deployment record.")
@click.argument("record_id", metavar="ID")
@common_options
def describe(state: State, record_id: str) -> None:
    show_record(state, state.client.call("GET", f"/v1/deployments/{segment(record_id)}"))


_UNATTESTED_COLUMNS: list[output.Column] = [
    ("ENV", lambda w: w["environment"], 8),
    ("LOGICAL ENV", lambda w: w["logical_environment"], 8),
    ("DEPLOYMENT", lambda w: w["deployment_name"], 10),
    ("VERSION", lambda w: w["artifact_version"] or "-", 6),
    ("DIGEST", lambda w: output.short_digest(w["digest"]), 7),
    ("REASON", lambda w: output.paint(w["reason"], "red"), 9),
    ("SCOPE", lambda w: w["scope"], 3),
    ("SINCE", lambda w: output.relative(w["first_seen_at"]), 5),
]


def _list_unattested(
    state: State, environment: str | None, logical_environment: str | None, limit: int | None
) -> None:
    params = {"environment": environment, "logical_environment": logical_environment}
    lists.show(
        state,
        "/v1/unattested",
        _UNATTESTED_COLUMNS,
        "nothing runs without evidence",
        params=params,
        limit=limit,
    )


deployment.add_command(sync)
deployment.add_command(diff)
