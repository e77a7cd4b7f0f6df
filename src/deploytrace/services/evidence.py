"""The evidence store: push attestations, trace artifacts, and the gate that
lets only attested artifacts be recorded as deployed.

Parsing and signature checks (CPU work, `deploytrace.attestations`) happen
before any transaction opens; the write transaction only inserts rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from deploytrace.errors import Conflict, InvalidInput, NotFound
from deploytrace.services import audit, pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.records import Record, cursor_of, decode_cursor
from deploytrace.storage import deployments as deployment_store
from deploytrace.storage import evidence as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database

if TYPE_CHECKING:
    from deploytrace import attestations as formats


def _formats() -> Any:
    # Imported on use: it pulls in sigstore, which the record path never needs and
    # which costs the embedded CLI a third of its start-up.
    from deploytrace import attestations

    return attestations


MAX_NAME = 255
_ARTIFACT_DIGEST = re.compile(r"^[a-z0-9][a-z0-9_+.-]*:[^\s\x00-\x1f\x7f]{1,200}$")
_HASH_LENGTHS = {"sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class PushResult:
    items: list[store.AttestationRow]
    stored: int  # how many attestations were new


@dataclass(frozen=True)
class Attestation:
    row: store.AttestationRow
    refs: list[store.Ref]


@dataclass(frozen=True)
class Summary:
    """Who stands behind an artifact: distinct workflows, projects and versions."""

    workflows: list[str]
    projects: list[str]
    project_versions: list[tuple[str, str]]


@dataclass(frozen=True)
class Trace:
    digest: str
    attestations: list[store.RefRow]
    attestations_next_cursor: str | None
    summary: Summary
    deployments: list[Record]
    deployments_next_cursor: str | None


def artifact_digest(value: str) -> str:
    """A digest as the index keys it: hash algorithms lower-cased, others kept as they are."""
    algorithm, sep, rest = value.strip().partition(":")
    algorithm = algorithm.lower()
    if algorithm in _HASH_LENGTHS:
        rest = rest.lower()
    candidate = f"{algorithm}{sep}{rest}"
    if not _ARTIFACT_DIGEST.match(candidate) or len(candidate) > 255:
        raise InvalidInput(f"invalid digest {value!r}: expected ALGORITHM:VALUE, e.g. sha256:<hex>")
    expected = _HASH_LENGTHS.get(algorithm)
    if expected and not re.fullmatch(f"[0-9a-f]{{{expected}}}", rest):
        raise InvalidInput(f"invalid digest {value!r}: {algorithm} needs {expected} hex characters")
    return candidate


def _name(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    return validation.text(value, what, MAX_NAME)


def _merge(found: str | None, given: str | None, what: str, digest: str) -> str | None:
    if found is not None and given is not None and found != given:
        raise InvalidInput(
            f"attestation {digest} names {what} {found!r} but --{what.replace(' ', '-')} "
            f"says {given!r}"
        )
    return found if found is not None else given


@functools.lru_cache(maxsize=64)
def _trust_store(material: tuple[tuple[str, str, bytes], ...]) -> formats.TrustStore:
    keys = [(name, content) for name, kind, content in material if kind == "key"]
    roots = [(name, content) for name, kind, content in material if kind == "root"]
    store_: formats.TrustStore = _formats().TrustStore(keys=keys, roots=roots)
    return store_


def trust_store(conn: Connection, org_id: uuid.UUID) -> formats.TrustStore:
    rows = store.list_trust(conn, org_id)
    return _trust_store(tuple((r.name, r.kind, r.content) for r in rows))


@dataclass(frozen=True)
class _Named:
    """A parsed attestation and the project, version and workflow it is filed under."""

    att: formats.ParsedAttestation
    project: str | None
    version: str | None
    workflow: str | None


def _file(
    parsed: list[formats.ParsedAttestation],
    workflow: str | None,
    project: str | None,
    version: str | None,
) -> list[_Named]:
    named = []
    for att in parsed:
        p = _merge(att.project, project, "project", att.digest)
        v = _merge(att.project_version, version, "project version", att.digest)
        if v is not None and p is None:
            raise InvalidInput(f"attestation {att.digest}: a project version needs a project")
        w = _merge(att.workflow, workflow, "workflow", att.digest)
        named.append(
            _Named(att, _name(p, "project"), _name(v, "project version"), _name(w, "workflow"))
        )
    return named


def push(
    db: Database,
    actor: Actor,
    data: bytes,
    *,
    workflow: str | None = None,
    project: str | None = None,
    project_version: str | None = None,
    dry_run: bool = False,
    require_key: str | None = None,
) -> PushResult:
    """Parse, verify and store, in one transaction; with `dry_run`, store nothing.

    `require_key` names a trusted key that must have signed every attestation:
    a DSSE signature without a keyid cannot otherwise tell a tampered payload
    from one signed by an unknown key.
    """
    actor.require(Action.WRITE)
    lib = _formats()
    named = _file(
        lib.parse(data),
        _name(workflow, "workflow"),
        _name(project, "project"),
        _name(project_version, "project version"),
    )
    with db.write() as conn:
        rows = store.get_attestations(conn, actor.org_id, [n.att.digest for n in named])
        fresh = {n.att.digest: n for n in named if n.att.digest not in rows}
        verdicts: dict[str, formats.Verification] = {}
        if fresh or require_key is not None:
            trust = trust_store(conn, actor.org_id)
            if require_key is not None and not any(k.name == require_key for k in trust.keys):
                raise NotFound(f"trusted key {require_key!r} not found (see `trust list`)")
            for digest, item in fresh.items():
                verdict: formats.Verification = lib.verify(item.att, trust)
                if verdict.status == "invalid":
                    raise InvalidInput(f"attestation {digest} is invalid: {verdict.reason}")
                verdicts[digest] = verdict
        if require_key is not None:
            _require_signed_by(require_key, verdicts, rows)
        if dry_run:
            return PushResult([], 0)
        changes = []
        ids = _Ids(conn, actor.org_id)
        for digest, item in fresh.items():
            row = _insert(conn, actor, item, verdicts[digest], ids)
            if row is None:  # a concurrent push of the same bytes won
                found = store.get_attestations(conn, actor.org_id, [digest])[digest]
                rows[digest] = found
                continue
            rows[digest] = row
            changes.append(_pushed(item, verdicts[digest]))
        if changes:
            audit.append_many(conn, actor.org_id, actor.name, changes)
    return PushResult([rows[n.att.digest] for n in named], len(changes))


def _require_signed_by(
    key: str,
    verdicts: dict[str, formats.Verification],
    stored: dict[str, store.AttestationRow],
) -> None:
    identities = {d: v.identity for d, v in verdicts.items()}
    identities.update({d: r.verification_identity for d, r in stored.items()})
    for digest, identity in identities.items():
        if identity != f"key:{key}":
            raise InvalidInput(
                f"attestation {digest} carries no valid signature by trusted key "
                f"{key!r}: tampered, or signed by another key"
            )


def _pushed(item: _Named, verdict: formats.Verification) -> audit.Change:
    att = item.att
    return audit.Change(
        "attestation.pushed",
        f"attestation/{att.digest}",
        {
            "format": att.format,
            "predicate_type": att.predicate_type,
            "subjects": len(att.subjects),
            "verification": verdict.status,
            "project": item.project,
            "project_version": item.version,
            "workflow": item.workflow,
        },
    )


class _Ids:
    """Project, version and workflow ids of one push, created on first use."""

    def __init__(self, conn: Connection, org_id: uuid.UUID) -> None:
        self.conn = conn
        self.org_id = org_id
        self.cache: dict[tuple[str | None, ...], tuple[uuid.UUID | None, ...]] = {}

    def of(self, item: _Named) -> tuple[uuid.UUID | None, ...]:
        key = (item.project, item.version, item.workflow)
        if key not in self.cache:
            self.cache[key] = store.ensure_named(
                self.conn,
                self.org_id,
                project=item.project,
                version=item.version,
                workflow=item.workflow,
                now=utcnow(),
                new_id=new_id,
            )
        return self.cache[key]


def _insert(
    conn: Connection,
    actor: Actor,
    item: _Named,
    verdict: formats.Verification,
    ids: _Ids,
) -> store.AttestationRow | None:
    from deploytrace.attestations.times import built_at  # SPEC §8: DORA's lead time

    att = item.att
    now = utcnow()
    project_id, version_id, workflow_id = ids.of(item)
    subjects = [{"name": s.name, "digest": dict(s.digest), "uri": s.uri} for s in att.subjects]
    values = {
        "org_id": actor.org_id,
        "digest": att.digest,
        "format": att.format,
        "media_type": att.media_type,
        "statement_type": att.statement_type,
        "predicate_type": att.predicate_type,
        "subjects": subjects,
        "size": len(att.raw),
        "content": att.raw,
        "workflow_id": workflow_id,
        "project_id": project_id,
        "project_version_id": version_id,
        "verification_status": verdict.status,
        "verification_method": verdict.method,
        "verification_identity": verdict.identity,
        "verification_reason": verdict.reason,
        "created_at": now,
        "created_by": actor.name,
        "built_at": built_at(att.statement),
    }
    refs = [store.Ref(r.digest, r.role, r.material_type, r.name) for r in att.refs]
    seq = store.insert_attestation(conn, values, refs)
    if seq is None:
        return None
    store.add_owners(
        conn,
        actor.org_id,
        {r.digest for r in refs if r.role in store.ATTESTING_ROLES},
        workflow=item.workflow,
        project=item.project,
        version=item.version,
    )
    return store.AttestationRow(
        seq=seq,
        digest=att.digest,
        format=att.format,
        media_type=att.media_type,
        statement_type=att.statement_type,
        predicate_type=att.predicate_type,
        subjects=subjects,
        size=len(att.raw),
        workflow=item.workflow,
        project=item.project,
        project_version=item.version,
        verification_status=verdict.status,
        verification_method=verdict.method,
        verification_identity=verdict.identity,
        verification_reason=verdict.reason,
        created_at=now,
        created_by=actor.name,
    )


def list_attestations(
    db: Database,
    actor: Actor,
    *,
    project: str | None = None,
    workflow: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> pagination.Page[store.AttestationRow]:
    actor.require(Action.READ)
    size = pagination.limit(limit)
    before = pagination.decode(cursor, int)
    subject = artifact_digest(subject) if subject else None
    with db.read() as conn:
        rows = store.list_attestations(
            conn,
            actor.org_id,
            project=_name(project, "project"),
            workflow=_name(workflow, "workflow"),
            subject=subject,
            before_seq=before,
            limit=size + 1,
        )
    return pagination.page(rows, size, lambda r: r.seq)


def _attestation_digest(value: str) -> str:
    digest = value.strip().lower()
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise NotFound(f"attestation {value!r} not found")
    return digest


def describe(db: Database, actor: Actor, digest: str) -> Attestation:
    actor.require(Action.READ)
    digest = _attestation_digest(digest)
    with db.read() as conn:
        row = store.get_attestation(conn, actor.org_id, digest)
        if row is None:
            raise NotFound(f"attestation {digest} not found")
        return Attestation(row, store.refs_of(conn, row.seq))


def content(db: Database, actor: Actor, digest: str) -> bytes:
    actor.require(Action.READ)
    digest = _attestation_digest(digest)
    with db.read() as conn:
        data = store.get_content(conn, actor.org_id, digest)
    if data is None:
        raise NotFound(f"attestation {digest} not found")
    return data


def require_attested(conn: Connection, org_id: uuid.UUID, digest: str, kind: str) -> None:
    """The rule: only a subject or typed material of a compatible kind attests an artifact."""
    if store.is_attested(conn, org_id, digest, kind):
        return
    found = store.attesting_types(conn, org_id, digest)
    typed = sorted(
        t for role in store.ATTESTING_ROLES for t in found.get(role, set()) if t is not None
    )
    if typed:
        raise NotFound(
            f"artifact {digest} is attested as {', '.join(typed)}, not as {kind}: "
            "no attestation of a compatible kind"
        )
    if found.get("input"):
        raise NotFound(
            f"artifact {digest} is not attested: it is only a build input of attestations "
            "here; attest the artifact itself before recording it"
        )
    raise NotFound(
        f"artifact {digest} is not attested in this organization: "
        "push an attestation that names it first (deploytrace attestation push FILE)"
    )


def summary(conn: Connection, org_id: uuid.UUID, digest: str, limit: int = 100) -> Summary:
    workflows, projects, versions = store.owners(conn, org_id, digest, limit)
    return Summary(workflows, projects, versions)


def evidence_page(
    conn: Connection, org_id: uuid.UUID, digest: str, *, limit: int, cursor: str | None
) -> tuple[list[store.RefRow], str | None]:
    before = pagination.decode(cursor, list)
    if before is not None and (
        len(before) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in before)
    ):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page")
    rows = store.refs_page(
        conn, org_id, digest, before=tuple(before) if before else None, limit=limit + 1
    )
    found = pagination.page(rows, limit, lambda r: [r.attestation.seq, r.ref_id])
    return found.items, found.next_cursor


def trace(
    db: Database,
    actor: Actor,
    digest: str,
    *,
    limit: int | None = None,
    attestations_cursor: str | None = None,
    deployments_cursor: str | None = None,
) -> Trace:
    """Where an artifact runs and ran, and the evidence behind it."""
    actor.require(Action.READ)
    digest = artifact_digest(digest)
    size = pagination.limit(limit)
    before = decode_cursor(deployments_cursor)
    now = utcnow()
    with db.read() as conn:
        refs, refs_next = evidence_page(
            conn, actor.org_id, digest, limit=size, cursor=attestations_cursor
        )
        records = deployment_store.list_page(
            conn,
            deployment_store.Filters(org_id=actor.org_id, digest=digest, history=True),
            before=before,
            limit=size + 1,
        )
        if not refs and not records and attestations_cursor is None and before is None:
            raise NotFound(f"artifact {digest} not found: no attestation or deployment names it")
        owners = summary(conn, actor.org_id, digest)
    found = pagination.page(records, size, cursor_of)
    return Trace(
        digest,
        refs,
        refs_next,
        owners,
        [Record.of(r, now) for r in found.items],
        found.next_cursor,
    )


# Trust material -------------------------------------------------------------------

PUBLIC_GOOD = "public-good"  # deploytrace.attestations.PUBLIC_GOOD, without importing it
RESERVED_TRUST_NAMES = frozenset({PUBLIC_GOOD})


@dataclass(frozen=True)
class TrustEntry:
    name: str
    kind: str  # "key", "root"
    fingerprint: str
    builtin: bool
    created_at: dt.datetime | None


def add_trust(db: Database, actor: Actor, *, name: str, kind: str, content: bytes) -> TrustEntry:
    actor.require(Action.ADMIN)
    validation.dns_label(name, "trust material name")
    if name in RESERVED_TRUST_NAMES:
        raise Conflict(f"{name!r} is the built-in Sigstore public-good root")
    if kind == "key":
        _formats().load_public_key(content)
    else:
        _formats().load_trusted_root(content)
    fingerprint = "sha256:" + hashlib.sha256(content).hexdigest()
    now = utcnow()
    with db.write() as conn:
        db.lock_key(conn, "trust", actor.org_id)
        if any(r.name == name for r in store.list_trust(conn, actor.org_id)):
            raise Conflict(f"trust material named {name!r} already exists")
        store.insert_trust(
            conn,
            {
                "id": new_id(),
                "org_id": actor.org_id,
                "name": name,
                "kind": kind,
                "content": content,
                "fingerprint": fingerprint,
                "created_at": now,
            },
        )
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "trust.added",
            f"trust/{name}",
            {"kind": kind, "fingerprint": fingerprint},
        )
    return TrustEntry(name, kind, fingerprint, False, now)


def list_trust(db: Database, actor: Actor) -> list[TrustEntry]:
    actor.require(Action.READ)
    with db.read() as conn:
        rows = store.list_trust(conn, actor.org_id)
    builtin = TrustEntry(PUBLIC_GOOD, "root", _public_good_fingerprint(), True, None)
    return [builtin] + [
        TrustEntry(r.name, r.kind, r.fingerprint, False, r.created_at) for r in rows
    ]


@functools.cache
def _public_good_fingerprint() -> str:
    from importlib import resources

    data = resources.files("deploytrace.attestations").joinpath("roots", "public-good.json")
    return "sha256:" + hashlib.sha256(data.read_bytes()).hexdigest()


def remove_trust(db: Database, actor: Actor, name: str) -> None:
    actor.require(Action.ADMIN)
    if name in RESERVED_TRUST_NAMES:
        raise Conflict(f"{name!r} is built in and cannot be removed")
    with db.write() as conn:
        if not store.delete_trust(conn, actor.org_id, name):
            raise NotFound(f"trust material {name!r} not found")
        audit.append(conn, actor.org_id, actor.name, "trust.removed", f"trust/{name}", {})


def as_json_digest(subject: dict[str, Any]) -> str | None:
    """The subject's preferred digest as ALGORITHM:VALUE (sha256 first)."""
    digests: dict[str, str] = subject.get("digest") or {}
    for algorithm in ("sha256", "sha512", *sorted(digests)):
        if algorithm in digests:
            return f"{algorithm}:{digests[algorithm]}"
    return None
