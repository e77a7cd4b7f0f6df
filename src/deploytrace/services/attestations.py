"""Attestations: push (parse, verify, store), list, describe, and re-check a stored verdict.

A push works in three steps, so that checking signatures (CPU work, seconds
for a hostile file) never holds a lock another writer waits on:

1. a read transaction: what of the file is stored already, and the trust store;
2. no transaction: verify the signatures of what is new;
3. a write transaction that only inserts rows (`ON CONFLICT DO NOTHING` lets a
   concurrent push of the same bytes win without an error).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from deploytrace import digests
from deploytrace.errors import InvalidInput, NotFound
from deploytrace.services import audit, pagination, prefixes, trust, validation
from deploytrace.services import contents as contents_index
from deploytrace.services.context import Action, Actor
from deploytrace.services.verdicts import Verdict, verdict_of
from deploytrace.storage import artifacts as artifact_store
from deploytrace.storage import attestations as store
from deploytrace.storage import projects as project_store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import ArtifactRole, VerificationStatus

if TYPE_CHECKING:
    # Imported on use only: it pulls in sigstore, which the record path never needs
    # and which costs the embedded CLI a third of its start-up.
    from deploytrace import attestations as formats

MAX_NAME = 255
# Limits on what one push may ask us to verify. Real files hold one or two
# attestations and one or two signatures each (tests/data/attestations); the
# caps leave ample room and bound the work a hostile file can cause.
MAX_ATTESTATIONS_PER_FILE = 500
MAX_SIGNATURES_PER_ATTESTATION = 16
# Lists show this many subjects of each attestation (and their count); describe shows all.
LIST_SUBJECTS = 3


@dataclass(frozen=True)
class Subject:
    name: str | None
    digest: str | None  # the preferred algorithm (sha256 first), ALGORITHM:VALUE
    digests: dict[str, str]
    uri: str | None


@dataclass(frozen=True)
class Attestation:
    """A stored attestation. `subjects` are the first few in lists, all in `describe`."""

    digest: str
    format: str
    media_type: str | None
    statement_type: str | None
    predicate_type: str
    subjects: list[Subject]
    subjects_count: int
    workflow: str | None
    project: str | None
    project_version: str | None
    verification: Verdict
    size: int
    created_at: dt.datetime


@dataclass(frozen=True)
class Reference:
    """An artifact an attestation names, and how."""

    digest: str
    role: ArtifactRole
    material_type: str | None
    name: str | None


@dataclass(frozen=True)
class Described:
    attestation: Attestation  # with every subject
    references: list[Reference]


@dataclass(frozen=True)
class PushResult:
    items: list[Attestation]  # one per attestation of the file, in file order
    stored: int  # how many of them were new


@dataclass(frozen=True)
class Recheck:
    """A stored verdict, and what verifying the same bytes against today's trust says."""

    digest: str
    stored: Verdict
    current: Verdict


def _subject(raw: dict[str, Any]) -> Subject:
    found: dict[str, str] = raw.get("digest") or {}
    preferred = None
    for algorithm in ("sha256", "sha512", *sorted(found)):
        if algorithm in found:
            preferred = f"{algorithm}:{found[algorithm]}"
            break
    return Subject(raw.get("name"), preferred, dict(found), raw.get("uri"))


def attestation_of(
    row: store.AttestationRow, subjects: list[dict[str, Any]] | None = None
) -> Attestation:
    """The service's view of a row; `subjects` replaces the row's first few."""
    return Attestation(
        digest=row.digest,
        format=row.format,
        media_type=row.media_type,
        statement_type=row.statement_type,
        predicate_type=row.predicate_type,
        subjects=[_subject(s) for s in (row.subjects_head if subjects is None else subjects)],
        subjects_count=row.subjects_count,
        workflow=row.workflow,
        project=row.project,
        project_version=row.project_version,
        verification=verdict_of(row),
        size=row.size,
        created_at=row.created_at,
    )


# Push -----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class _Named:
    """A parsed attestation and the project, version and workflow it is filed under."""

    att: formats.ParsedAttestation
    project: str | None
    version: str | None
    workflow: str | None


@dataclass(frozen=True)
class _Verified:
    """What the write step stores: a new attestation and its verdict."""

    item: _Named
    verdict: Verdict


def _file(
    parsed: Sequence[formats.ParsedAttestation],
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


def check_limits(parsed: Sequence[formats.ParsedAttestation]) -> None:
    """Refuse a file that asks for more verification than any real one needs."""
    if len(parsed) > MAX_ATTESTATIONS_PER_FILE:
        raise InvalidInput(
            f"the file holds {len(parsed)} attestations; at most "
            f"{MAX_ATTESTATIONS_PER_FILE} are accepted in one push (split the file)"
        )
    for att in parsed:
        count = sum(len(envelope.signatures) for envelope in att.envelopes)
        if count > MAX_SIGNATURES_PER_ATTESTATION:
            raise InvalidInput(
                f"attestation {att.digest} carries {count} signatures; at most "
                f"{MAX_SIGNATURES_PER_ATTESTATION} are checked per attestation"
            )


def _verify(att: formats.ParsedAttestation, snapshot: trust.Trust) -> Verdict:
    from deploytrace import attestations as formats

    found = formats.verify(att, snapshot.store)
    return Verdict(
        VerificationStatus(found.status),
        found.method,
        found.identity,
        snapshot.key_fingerprint(found),
        found.reason,
    )


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
    """Parse, verify and store the attestations of one file: all of them, or none.

    Each is stored byte-exact under the sha256 of its bytes, with the verdict on
    its signatures (verified, unverified); an `invalid` one (altered) refuses
    the file. Bytes already stored are not stored again (nor re-verified).
    With `dry_run`, check everything and store nothing.

    `require_key` names a trusted key that must have signed every attestation
    of the file (a DSSE signature without a keyid cannot otherwise tell a
    tampered payload from one signed by an unknown key). A stored verdict
    counts only if that key's fingerprint is the one the verdict recorded;
    otherwise the attestation is verified again against the key as it is now.

    Raises `InvalidInput` (not attestations, beyond the limits, invalid
    signatures, not signed by `require_key`) and `NotFound` (no such key).
    """
    from deploytrace import attestations as formats

    actor.require(Action.WRITE)
    parsed = formats.parse(data)
    check_limits(parsed)
    named = _file(
        parsed,
        _name(workflow, "workflow"),
        _name(project, "project"),
        _name(project_version, "project version"),
    )
    with db.read() as conn:
        stored = store.get_attestations(conn, actor.org_id, [n.att.digest for n in named])
        fresh = {n.att.digest: n for n in named if n.att.digest not in stored}
        snapshot = trust.load(conn, actor.org_id) if fresh or require_key else None
    # No transaction is open from here until the write: verification may take seconds.
    verified: dict[str, _Verified] = {}
    if snapshot is not None:
        for digest, item in fresh.items():
            verdict = _verify(item.att, snapshot)
            if verdict.status == VerificationStatus.INVALID:
                raise InvalidInput(f"attestation {digest} is invalid: {verdict.reason}")
            verified[digest] = _Verified(item, verdict)
        if require_key is not None:
            _require_signed_by(require_key, snapshot, named, verified, stored)
    if dry_run:
        return PushResult([], 0)
    found = {d: attestation_of(row) for d, row in stored.items()}
    new = 0
    if verified:
        written, new = _store(db, actor, list(verified.values()))
        found.update(written)
    return PushResult([found[n.att.digest] for n in named], new)


def _require_signed_by(
    key: str,
    snapshot: trust.Trust,
    named: list[_Named],
    verified: dict[str, _Verified],
    stored: dict[str, store.AttestationRow],
) -> None:
    fingerprint = snapshot.key_fingerprints.get(key)
    if fingerprint is None:
        raise NotFound(f"trusted key {key!r} not found (see `trust list`)")
    identity = f"{trust.KEY_IDENTITY}{key}"
    for item in named:
        digest = item.att.digest
        if digest in verified:
            verdict = verified[digest].verdict
        else:
            verdict = verdict_of(stored[digest])
            if verdict.key_fingerprint != fingerprint:
                # Verified by another key of that name, before fingerprints were
                # kept, or not by a key at all: ask the key as it is now.
                verdict = _verify(item.att, snapshot)
        if verdict.identity != identity or verdict.key_fingerprint != fingerprint:
            raise InvalidInput(
                f"attestation {digest} carries no valid signature by trusted key "
                f"{key!r}: tampered, or signed by another key"
            )


def _store(
    db: Database, actor: Actor, items: list[_Verified]
) -> tuple[dict[str, Attestation], int]:
    """The write step: the new attestations, their index entries and audit entries.

    Returns what is stored under each digest, and how many this call stored.
    """
    found: dict[str, Attestation] = {}
    changes = []
    # What the attestations say about contents (SBOM components, findings, VEX) is
    # extracted here, before any transaction: a big SBOM is seconds of parsing.
    contents = contents_index.Plan([new.item.att for new in items])
    with db.write() as conn:
        ids = _Ids(conn, actor.org_id)
        for new in items:
            att = new.item.att
            seq, written = _insert(conn, actor, new, ids)
            if seq is None:  # a concurrent push of the same bytes won
                row = store.get_attestation(conn, actor.org_id, att.digest)
                assert row is not None
                found[att.digest] = attestation_of(row)
                continue
            refs = [artifact_store.Ref(r.digest, r.role, r.material_type, r.name) for r in att.refs]
            artifact_store.insert_refs(conn, actor.org_id, seq, refs)
            artifact_store.add_owners(
                conn,
                actor.org_id,
                {r.digest for r in refs if r.role in artifact_store.ATTESTING_ROLES},
                workflow=new.item.workflow,
                project=new.item.project,
                version=new.item.version,
            )
            contents.index(conn, actor.org_id, seq, att)
            found[att.digest] = written
            changes.append(_pushed(new))
        if changes:
            audit.append_many(conn, actor.org_id, actor.name, changes)
    # Contents too big for the push's transaction are written now, in chunks.
    contents.complete(db)
    return found, len(changes)


def _pushed(new: _Verified) -> audit.Change:
    att, item = new.item.att, new.item
    return audit.Change(
        "attestation.pushed",
        f"attestation/{att.digest}",
        {
            "format": att.format,
            "predicate_type": att.predicate_type,
            "subjects": len(att.subjects),
            "verification": new.verdict.status,
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
        self.cache: dict[tuple[str | None, ...], project_store.Ids] = {}

    def of(self, item: _Named) -> project_store.Ids:
        key = (item.project, item.version, item.workflow)
        if key not in self.cache:
            self.cache[key] = project_store.ensure_named(
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
    conn: Connection, actor: Actor, new: _Verified, ids: _Ids
) -> tuple[int | None, Attestation]:
    """Insert one attestation row: its seq (None if those bytes are stored already)."""
    from deploytrace.attestations.times import built_at  # SPEC §8: DORA's lead time

    item, verdict = new.item, new.verdict
    att = item.att
    project_id, version_id, workflow_id = ids.of(item)
    subjects = [{"name": s.name, "digest": dict(s.digest), "uri": s.uri} for s in att.subjects]
    now = utcnow()
    seq = store.insert_attestation(
        conn,
        {
            "org_id": actor.org_id,
            "digest": att.digest,
            "format": att.format,
            "media_type": att.media_type,
            "statement_type": att.statement_type,
            "predicate_type": att.predicate_type,
            "subjects": subjects,
            "subjects_count": len(subjects),
            "subjects_head": subjects[:LIST_SUBJECTS],
            "size": len(att.raw),
            "content": att.raw,
            "workflow_id": workflow_id,
            "project_id": project_id,
            "project_version_id": version_id,
            "verification_status": verdict.status,
            "verification_method": verdict.method,
            "verification_identity": verdict.identity,
            "verification_key_fingerprint": verdict.key_fingerprint,
            "verification_reason": verdict.reason,
            "created_at": now,
            "created_by": actor.name,
            "built_at": built_at(att.statement),
        },
    )
    written = Attestation(
        digest=att.digest,
        format=att.format,
        media_type=att.media_type,
        statement_type=att.statement_type,
        predicate_type=att.predicate_type,
        subjects=[_subject(s) for s in subjects[:LIST_SUBJECTS]],
        subjects_count=len(subjects),
        workflow=item.workflow,
        project=item.project,
        project_version=item.version,
        verification=verdict,
        size=len(att.raw),
        created_at=now,
    )
    return seq, written


# Reading --------------------------------------------------------------------------


def list_attestations(
    db: Database,
    actor: Actor,
    *,
    project: str | None = None,
    workflow: str | None = None,
    subject: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> pagination.Page[Attestation]:
    """Attestations newest first, each with its first few subjects and their count.

    `subject` keeps those naming that digest as subject or material (any
    spelling `deploytrace.digests.parse` accepts).
    """
    actor.require(Action.READ)
    size = pagination.limit(limit)
    before = pagination.decode(cursor, int)
    where = [artifact_store.attests(actor.org_id, digests.parse(subject))] if subject else []
    with db.read() as conn:
        rows = store.list_attestations(
            conn,
            actor.org_id,
            project=_name(project, "project"),
            workflow=_name(workflow, "workflow"),
            where=where,
            before_seq=before,
            limit=size + 1,
        )
    found = pagination.page(rows, size, lambda r: r.seq)
    return pagination.Page([attestation_of(r) for r in found.items], found.next_cursor)


def _attestation_digest(db: Database, actor: Actor, value: str) -> str:
    """An attestation's digest as given, or the one a unique prefix (≥ 8 hex) names."""
    prefix = prefixes.digest_prefix(value)
    if prefix is not None and prefix.startswith("sha256:"):
        with db.read() as conn:
            candidates = store.digests_with_prefix(conn, actor.org_id, prefix)
        found = prefixes.one(value, "attestation digest", candidates)
        if found is None:
            raise NotFound(f"no attestation digest starts with {prefix}")
        return found
    digest = value.strip().lower()
    if not digests.is_hash(digest) or not digest.startswith("sha256:"):
        raise NotFound(f"attestation {value!r} not found: attestations are named sha256:<hex>")
    return digest


def describe(db: Database, actor: Actor, digest: str) -> Described:
    """One attestation with every subject and every artifact it names. `NotFound` if absent."""
    actor.require(Action.READ)
    digest = _attestation_digest(db, actor, digest)
    with db.read() as conn:
        row = store.get_attestation(conn, actor.org_id, digest)
        if row is None:
            raise NotFound(f"attestation {digest} not found")
        subjects = store.get_subjects(conn, row.seq)
        refs = artifact_store.refs_of(conn, row.seq)
    return Described(
        attestation_of(row, subjects),
        [Reference(r.digest, ArtifactRole(r.role), r.material_type, r.name) for r in refs],
    )


def content(db: Database, actor: Actor, digest: str) -> bytes:
    """The attestation's bytes, exactly as pushed. `NotFound` if absent."""
    actor.require(Action.READ)
    digest = _attestation_digest(db, actor, digest)
    with db.read() as conn:
        data = store.get_content(conn, actor.org_id, digest)
    if data is None:
        raise NotFound(f"attestation {digest} not found")
    return data


def recheck(db: Database, actor: Actor, digest: str, *, require_key: str | None = None) -> Recheck:
    """Verify a stored attestation again, against the trust material as it is now.

    The stored verdict is left as it was (it says what was true at push time).
    With `require_key`, raise `InvalidInput` unless that trusted key verifies it
    now (`NotFound` if no key has that name).
    """
    from deploytrace import attestations as formats

    actor.require(Action.READ)
    digest = _attestation_digest(db, actor, digest)
    with db.read() as conn:
        row = store.get_attestation(conn, actor.org_id, digest)
        data = store.get_content(conn, actor.org_id, digest)
        snapshot = trust.load(conn, actor.org_id)
    if row is None or data is None:
        raise NotFound(f"attestation {digest} not found")
    parsed = formats.parse(data)
    check_limits(parsed)
    current = _verify(parsed[0], snapshot)
    if require_key is not None:
        fingerprint = snapshot.key_fingerprints.get(require_key)
        if fingerprint is None:
            raise NotFound(f"trusted key {require_key!r} not found (see `trust list`)")
        if current.key_fingerprint != fingerprint:
            raise InvalidInput(
                f"attestation {digest} is not signed by trusted key {require_key!r} "
                f"({current.status}{': ' + current.reason if current.reason else ''})"
            )
    return Recheck(digest, verdict_of(row), current)
