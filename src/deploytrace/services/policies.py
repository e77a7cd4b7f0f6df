"""The policy store and the policy gate (SPEC §9).

Store: `add` (a document's name comes from `metadata.name`; new content makes a
new version, the same content changes nothing), `list_policies`, `describe`,
`remove`, `attach`/`detach` per logical environment (optionally one
environment) in `enforce` or `advisory` mode. Every change is audited.

Gate: `check` (one deployment) and `check_many` (a snapshot's workloads in one
environment and logical environment) read what they need in one read
transaction, then evaluate outside it: callers run them before opening the
write transaction that records. They answer a `Decision`; the record path
refuses with `decision.refusal()` when `decision.enforced` (unless an admin
overrides) and stores `record_policy(decision, override)` on the record.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from deploytrace.errors import InvalidInput, NotFound
from deploytrace.policies import inputs
from deploytrace.policies.evaluate import (
    ADVISORY,
    ENFORCE,
    MODES,
    NO_POLICY,
    Attached,
    Decision,
    PolicyResult,
    Violation,
    evaluate,
    record_policy,
)
from deploytrace.policies.inputs import Target
from deploytrace.services import audit, pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.storage import environments as env_store
from deploytrace.storage import policies as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database

if TYPE_CHECKING:
    from deploytrace.policies import document as documents

# The Rego engine's modules (policies.document with its YAML parser, policies.sandbox)
# are imported where a policy is loaded or evaluated: a record where no policy is
# attached, the common case, never pays for them (CLI start-up, bench/embedded_cli.py).

__all__ = [
    "ADVISORY",
    "ENFORCE",
    "NO_POLICY",
    "AddResult",
    "AttachmentView",
    "Decision",
    "PolicyDetail",
    "PolicyResult",
    "PolicyView",
    "Target",
    "Violation",
    "add",
    "any_attached",
    "attach",
    "check",
    "check_many",
    "describe",
    "detach",
    "evaluate_target",
    "list_policies",
    "record_policy",
    "remove",
]

# Attestations per artifact handed to a policy, newest first: an input is loaded
# into the engine at about 0.5 s per MiB, and a digest attested thousands of
# times would make every gate slow.
MAX_ATTESTATIONS = 200


@dataclass(frozen=True)
class AttachmentView:
    policy: str
    logical_environment: str
    environment: str | None  # None: every environment
    mode: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True)
class VersionView:
    version: int
    digest: str
    created_at: dt.datetime
    created_by: str | None


@dataclass(frozen=True)
class PolicyView:
    name: str
    description: str
    version: int
    digest: str
    entries: list[dict[str, Any]]  # [{kind, package}]
    created_at: dt.datetime
    updated_at: dt.datetime
    attachments: list[AttachmentView]


@dataclass(frozen=True)
class PolicyDetail:
    policy: PolicyView
    versions: list[VersionView]
    content: str  # the latest version's document, as added


@dataclass(frozen=True)
class AddResult:
    policy: PolicyView
    changed: bool  # False: the latest version already had this content


def _entries_json(doc: documents.PolicyDocument) -> list[dict[str, Any]]:
    return [
        {"index": e.index, "kind": e.kind, "package": e.package, "source": e.source}
        for e in doc.entries
    ]


def _view(
    row: store.PolicyRow, version: store.VersionRow, attachments: list[store.AttachmentRow]
) -> PolicyView:
    return PolicyView(
        name=row.name,
        description=row.description,
        version=version.version,
        digest=version.digest,
        entries=[{"kind": e.get("kind"), "package": e.get("package")} for e in version.entries],
        created_at=row.created_at,
        updated_at=row.updated_at,
        attachments=[_attachment(a) for a in attachments if a.policy == row.name],
    )


def _attachment(row: store.AttachmentRow) -> AttachmentView:
    return AttachmentView(
        row.policy,
        row.logical_environment,
        row.environment,
        row.mode,
        row.created_at,
        row.updated_at,
    )


def _get(conn: Connection, actor: Actor, name: str) -> store.PolicyRow:
    row = store.get(conn, actor.org_id, name)
    if row is None:
        raise NotFound(f"policy {name!r} not found")
    return row


def _load_view(conn: Connection, actor: Actor, row: store.PolicyRow) -> PolicyView:
    found = store.latest(conn, row.id)
    assert found is not None  # every live policy has a version
    return _view(row, found[0], store.attachments_of(conn, actor.org_id, [row.id]))


def add(db: Database, actor: Actor, content: bytes) -> AddResult:
    """Store a policy document: a new version when its content differs from the latest.

    The Rego is compiled before anything is stored: a parse error (with the engine's
    line), a missing `result` rule, a network, environment or Chainloop-only built-in,
    a document over 256 KiB or a malformed structure is refused with InvalidInput.
    """
    actor.require(Action.ADMIN)
    from deploytrace.policies import document as documents
    from deploytrace.policies import sandbox

    doc = documents.load(content, sandbox.shared())
    with db.write() as conn:
        db.lock_key(conn, "policy", actor.org_id, doc.name)
        row = store.get(conn, actor.org_id, doc.name, removed=True)
        now = utcnow()
        if row is None:
            store.create(
                conn,
                org_id=actor.org_id,
                policy_id=new_id(),
                name=doc.name,
                description=doc.description,
                now=now,
            )
            row = store.get(conn, actor.org_id, doc.name)
            assert row is not None
        elif row.deleted_at is None:
            current = store.latest(conn, row.id)
            if current is not None and current[1] == doc.content:
                return AddResult(_load_view(conn, actor, row), changed=False)
        number = store.add_version(
            conn,
            org_id=actor.org_id,
            policy=row,
            version_id=new_id(),
            digest=doc.digest,
            content=doc.content,
            entries=_entries_json(doc),
            args=doc.args,
            description=doc.description,
            now=now,
            by=actor.name,
        )
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "policy.added",
            f"policy/{doc.name}",
            {"version": number, "digest": doc.digest},
        )
        fresh = store.get(conn, actor.org_id, doc.name)
        assert fresh is not None
        view = _load_view(conn, actor, fresh)
    return AddResult(view, changed=True)


def list_policies(
    db: Database, actor: Actor, *, limit: int | None = None, cursor: str | None = None
) -> pagination.Page[PolicyView]:
    """The organization's policies by name, each at its latest version, with attachments."""
    actor.require(Action.READ)
    size = pagination.limit(limit)
    after = pagination.decode(cursor, str)
    with db.read() as conn:
        rows = store.list_page(conn, actor.org_id, after=after, limit=size + 1)
        found = pagination.page(rows, size, lambda r: r.name)
        attachments = store.attachments_of(conn, actor.org_id, [r.id for r in found.items])
        views = []
        for row in found.items:
            latest = store.latest(conn, row.id)
            assert latest is not None
            views.append(_view(row, latest[0], attachments))
    return pagination.Page(views, found.next_cursor)


def describe(db: Database, actor: Actor, name: str) -> PolicyDetail:
    """The policy, every version (newest first) and the latest document."""
    actor.require(Action.READ)
    with db.read() as conn:
        row = _get(conn, actor, name)
        latest = store.latest(conn, row.id)
        assert latest is not None
        view = _view(row, latest[0], store.attachments_of(conn, actor.org_id, [row.id]))
        history = [
            VersionView(v.version, v.digest, v.created_at, v.created_by)
            for v in store.versions(conn, row.id)
        ]
    return PolicyDetail(view, history, latest[1].decode("utf-8", errors="replace"))


def remove(db: Database, actor: Actor, name: str) -> PolicyView:
    """Remove a policy and its attachments; its versions stay for the records naming them."""
    actor.require(Action.ADMIN)
    with db.write() as conn:
        db.lock_key(conn, "policy", actor.org_id, name)
        row = _get(conn, actor, name)
        view = _load_view(conn, actor, row)
        dropped = store.remove(conn, row.id, utcnow())
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "policy.removed",
            f"policy/{name}",
            {"version": view.version, "attachments": dropped},
        )
    return view


def _scope(
    conn: Connection, actor: Actor, logical_environment: str, environment: str | None
) -> tuple[uuid.UUID, uuid.UUID | None]:
    lenv = env_store.get(conn, env_store.logical_environments, actor.org_id, logical_environment)
    if lenv is None:
        raise NotFound(f"logical environment {logical_environment!r} not found")
    if environment is None:
        return lenv.id, None
    env = env_store.get(conn, env_store.environments, actor.org_id, environment)
    if env is None:
        raise NotFound(f"environment {environment!r} not found")
    return lenv.id, env.id


def _mode(mode: str) -> str:
    value = mode.strip().lower()
    if value not in MODES:
        raise InvalidInput(f"mode must be enforce or advisory, got {mode!r}")
    return value


def attach(
    db: Database,
    actor: Actor,
    name: str,
    logical_environment: str,
    environment: str | None = None,
    mode: str = ENFORCE,
) -> tuple[AttachmentView, bool]:
    """Attach a policy (its latest version, whatever it becomes) to a logical environment,
    in every environment or in one; attaching again changes the mode. (view, changed)."""
    actor.require(Action.ADMIN)
    validation.dns_label(logical_environment, "logical environment name")
    if environment is not None:
        validation.dns_label(environment, "environment name")
    wanted = _mode(mode)
    with db.write() as conn:
        db.lock_key(conn, "policy", actor.org_id, name)
        row = _get(conn, actor, name)
        lenv_id, env_id = _scope(conn, actor, logical_environment, environment)
        existing = store.find_attachment(conn, row.id, lenv_id, env_id)
        now = utcnow()
        changed = True
        if existing is None:
            store.insert_attachment(
                conn,
                org_id=actor.org_id,
                attachment_id=new_id(),
                policy_id=row.id,
                logical_environment_id=lenv_id,
                environment_id=env_id,
                mode=wanted,
                now=now,
                by=actor.name,
            )
        elif existing[1] != wanted:
            store.set_mode(conn, existing[0], wanted, now)
        else:
            changed = False
        if changed:
            audit.append(
                conn,
                actor.org_id,
                actor.name,
                "policy.attached",
                f"policy/{name}",
                {
                    "logical_environment": logical_environment,
                    "environment": environment,
                    "mode": wanted,
                },
            )
        found = [
            a
            for a in store.attachments_of(conn, actor.org_id, [row.id])
            if a.logical_environment == logical_environment and a.environment == environment
        ]
    return _attachment(found[0]), changed


def detach(
    db: Database,
    actor: Actor,
    name: str,
    logical_environment: str,
    environment: str | None = None,
) -> AttachmentView:
    """Detach a policy from a logical environment (every environment, or the one given)."""
    actor.require(Action.ADMIN)
    with db.write() as conn:
        db.lock_key(conn, "policy", actor.org_id, name)
        row = _get(conn, actor, name)
        lenv_id, env_id = _scope(conn, actor, logical_environment, environment)
        existing = store.find_attachment(conn, row.id, lenv_id, env_id)
        where = f"{logical_environment}" + (f" in environment {environment}" if environment else "")
        if existing is None:
            raise NotFound(f"policy {name!r} is not attached to {where}")
        view = next(
            _attachment(a)
            for a in store.attachments_of(conn, actor.org_id, [row.id])
            if a.logical_environment == logical_environment and a.environment == environment
        )
        store.delete_attachment(conn, existing[0])
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "policy.detached",
            f"policy/{name}",
            {"logical_environment": logical_environment, "environment": environment},
        )
    return view


# The gate -------------------------------------------------------------------------


def check(db: Database, actor: Actor, target: Target) -> Decision:
    """Every policy attached where `target` deploys, evaluated for it.

    Reads in its own read transaction and evaluates after it: call it before the
    write transaction that records. `Decision.status` is `none` when nothing is
    attached (one query, no evaluation). Policies of other organizations are
    never read.
    """
    actor.require(Action.READ)
    return check_many(db, actor, target.environment, target.logical_environment, [target])[0]


def check_many(
    db: Database,
    actor: Actor,
    environment: str,
    logical_environment: str,
    targets: Sequence[Target],
) -> list[Decision]:
    """One Decision per target, for many workloads of one environment and logical
    environment (a snapshot sync): the evidence of every target is read in a few
    queries, and each target is evaluated on its own. Pass only the targets that
    would create a record (heartbeats are never gated)."""
    actor.require(Action.READ)
    if not targets:
        return []
    for t in targets:
        if (t.environment, t.logical_environment) != (environment, logical_environment):
            raise InvalidInput("check_many gates one environment and logical environment")
    with db.read() as conn:
        rows = store.gate_policies(conn, actor.org_id, environment, logical_environment)
        if not rows:
            return [NO_POLICY for _ in targets]
        digests = sorted({t.digest for t in targets})
        kinds = {t.digest: t.kind for t in targets}
        evidence = store.evidence(conn, actor.org_id, kinds, MAX_ATTESTATIONS)
        deployed = store.deployed_in(conn, actor.org_id, digests)
    attached = _attached(rows)
    facts = _facts(targets, evidence, deployed)
    from deploytrace.policies import sandbox

    return evaluate(attached, facts, sandbox.shared())


def any_attached(db: Database, actor: Actor, environment: str, logical_environment: str) -> bool:
    """Is any policy attached where this (environment, logical environment) deploys?"""
    actor.require(Action.READ)
    with db.read() as conn:
        return bool(store.gate_policies(conn, actor.org_id, environment, logical_environment))


def evaluate_target(db: Database, actor: Actor, target: Target) -> Decision:
    """`policy evaluate`: the gate as a dry run, for a target whose places must exist."""
    actor.require(Action.READ)
    checked = Target(
        digest=validation.digest(target.digest),
        kind=validation.kind(target.kind),
        environment=validation.dns_label(target.environment, "environment name"),
        logical_environment=validation.dns_label(
            target.logical_environment, "logical environment name"
        ),
        deployment_name=target.deployment_name,
        artifact_name=target.artifact_name,
        artifact_version=target.artifact_version,
    )
    if checked.deployment_name:
        validation.dns_subdomain(checked.deployment_name, "deployment name")
    with db.read() as conn:
        _scope(conn, actor, checked.logical_environment, checked.environment)
    return check(db, actor, checked)


def _attached(rows: list[store.GateRow]) -> list[Attached]:
    """One entry per policy: attached both to every environment and to this one, the
    stricter mode wins."""
    from deploytrace.policies import document as documents

    merged: dict[str, store.GateRow] = {}
    for row in rows:
        seen = merged.get(row.name)
        if seen is None or (row.mode == ENFORCE and seen.mode != ENFORCE):
            merged[row.name] = row
    return [
        Attached(
            row.name,
            row.version,
            row.mode,
            documents.PolicyDocument(
                name=row.name,
                description=row.description,
                entries=tuple(
                    documents.Entry(e["index"], e.get("kind"), e["source"], e["package"])
                    for e in row.entries
                ),
                args=row.args,
                content=b"",
                digest=row.digest,
            ),
        )
        for row in sorted(merged.values(), key=lambda r: r.name)
    ]


class _StatementCache:
    """Parsed statements by attestation digest, shared by every gate of the process.

    An attestation's digest is the sha256 of its bytes, so an entry can never be
    stale, nor differ between organizations; the cache is bounded by the size of
    the attestations it holds.
    """

    LIMIT = 64 * 1024 * 1024

    def __init__(self) -> None:
        self._entries: collections.OrderedDict[str, tuple[dict[str, Any], Any, int]] = (
            collections.OrderedDict()
        )
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, row: store.EvidenceRow) -> tuple[dict[str, Any], Any] | None:
        with self._lock:
            hit = self._entries.get(row.digest)
            if hit is not None:
                self._entries.move_to_end(row.digest)
                return hit[0], hit[1]
        from deploytrace.attestations import parse

        try:
            found = parse(row.content)[0]
        except (InvalidInput, IndexError):
            return None  # stored before a parser change: nothing a policy can read
        doc = json.loads(found.raw) if row.format == "sigstore-bundle" else None
        size = len(row.content)
        with self._lock:
            if row.digest not in self._entries and size <= self.LIMIT // 4:
                self._entries[row.digest] = (found.statement, doc, size)
                self._bytes += size
                while self._bytes > self.LIMIT:
                    _, (_, _, dropped) = self._entries.popitem(last=False)
                    self._bytes -= dropped
        return found.statement, doc


_statements = _StatementCache()


def _facts(
    targets: Sequence[Target],
    evidence: list[store.EvidenceRow],
    deployed: list[store.DeployedRow],
) -> list[inputs.Facts]:
    statement_of = _statements.get

    by_digest: dict[str, list[inputs.AttestationFacts]] = {}
    for row in evidence:
        content = statement_of(row)
        if content is None:
            continue
        by_digest.setdefault(row.target, []).append(
            inputs.AttestationFacts(
                digest=row.digest,
                predicate_type=row.predicate_type,
                statement=content[0],
                format=row.format,
                document=content[1],
                verification_status=row.verification_status,
                verification_method=row.verification_method,
                verification_identity=row.verification_identity,
                workflow=row.workflow,
                project=row.project,
                project_version=row.project_version,
                created_at=row.created_at,
            )
        )
    places: dict[str, list[inputs.DeployedIn]] = {}
    for d in deployed:
        places.setdefault(d.digest, []).append(
            inputs.DeployedIn(d.environment, d.logical_environment, d.first_deployed_at)
        )
    return [
        inputs.Facts(t, tuple(by_digest.get(t.digest, ())), tuple(places.get(t.digest, ())))
        for t in targets
    ]
