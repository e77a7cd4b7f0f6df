"""Search queries over the contents index: the artifacts that contain a package (or
carry a finding), a page at a time, and what a page needs: the matching rows,
the deployment records in the time window, the VEX statements, the attestations.

A page is a keyset range of artifact digests: the distinct digests whose rows
match, restricted to those with a record in the window (unless `all`), in digest
order after the cursor. Each step is an index range scan: the key index of the
table searched, then `ix_deployment_records_org_digest_seq` per candidate.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    exists,
    func,
    or_,
    select,
    true,
)

from deploytrace.storage import deployments as deployment_store
from deploytrace.storage.attestations import attestations
from deploytrace.storage.contents import contents_components, contents_findings, contents_vex

Mode = Literal["now", "at", "history"]
r = deployment_store.deployment_records


@dataclass(frozen=True)
class Window:
    """Which records count: deployed now, deployed at an instant, or ever."""

    mode: Mode
    at: dt.datetime | None = None

    def condition(self) -> ColumnElement[bool]:
        if self.mode == "now":
            return r.c.status == deployment_store.DEPLOYED
        if self.mode == "at":
            assert self.at is not None
            return and_(
                r.c.created_at <= self.at, or_(r.c.ended_at.is_(None), r.c.ended_at > self.at)
            )
        return true()


@dataclass(frozen=True)
class Criteria:
    org_id: uuid.UUID
    findings: bool  # search findings (by vulnerability) rather than components
    name: str | None = None  # purl name or component name, lower case
    type: str | None = None
    namespace: str | None = None
    versions: tuple[str, ...] | None = None  # exact versions; None: any
    vuln_id: str | None = None  # upper case

    @property
    def table(self) -> Table:
        return contents_findings if self.findings else contents_components

    def conditions(self, *, with_versions: bool = True) -> list[ColumnElement[bool]]:
        t = self.table
        found: list[ColumnElement[bool]] = [t.c.org_id == self.org_id]
        if self.vuln_id is not None:
            found.append(t.c.vuln_id == self.vuln_id)
        if self.name is not None:
            found.append(t.c.purl_name == self.name)
        if self.type is not None:
            found.append(t.c.purl_type == self.type)
        if self.namespace is not None:
            found.append(t.c.purl_namespace == self.namespace)
        if with_versions and self.versions is not None:
            found.append(
                t.c.version == self.versions[0]
                if len(self.versions) == 1
                else t.c.version.in_(self.versions)
            )
        return found


def versions(conn: Connection, criteria: Criteria) -> list[str]:
    """The distinct versions of what the criteria name (a range is checked against them).

    For components, a skip scan of `(org, name, version, digest)`: one index probe per
    distinct version (a recursive CTE), not one row per artifact; a superset when the
    criteria also name a type or namespace (the page query applies those).
    """
    t = criteria.table
    if criteria.findings or criteria.name is None:
        query = (
            select(t.c.version)
            .where(*criteria.conditions(with_versions=False), t.c.version.is_not(None))
            .distinct()
        )
        return [v for v in conn.scalars(query) if v is not None]
    same = (t.c.org_id == criteria.org_id, t.c.purl_name == criteria.name)
    first = select(func.min(t.c.version).label("version")).where(*same)
    walk = first.cte("walk", recursive=True)
    following = (
        select(func.min(t.c.version)).where(*same, t.c.version > walk.c.version).scalar_subquery()
    )
    walk = walk.union_all(select(following).where(walk.c.version.is_not(None)))
    found = conn.scalars(select(walk.c.version).where(walk.c.version.is_not(None)))
    return [v for v in found if v is not None]


def artifacts(
    conn: Connection,
    criteria: Criteria,
    window: Window,
    *,
    everywhere: bool,
    after: str | None,
    limit: int,
) -> list[str]:
    """Digests of matching artifacts, in digest order after `after`; only those with
    a record in the window unless `everywhere`."""
    t = criteria.table
    query = (
        select(t.c.artifact_digest)
        .where(*criteria.conditions())
        .distinct()
        .order_by(t.c.artifact_digest)
        .limit(limit)
    )
    if after is not None:
        query = query.where(t.c.artifact_digest > after)
    if not everywhere:
        query = query.where(
            exists().where(
                r.c.org_id == criteria.org_id,
                r.c.artifact_digest == t.c.artifact_digest,
                window.condition(),
            )
        )
    return list(conn.scalars(query))


@dataclass(frozen=True)
class MatchRow:
    artifact_digest: str
    attestation_seq: int
    attestation: str  # its digest
    purl: str | None
    name: str | None
    version: str | None
    purl_type: str
    purl_namespace: str
    purl_name: str
    vulnerability: str | None
    vuln_id: str | None
    severity: str | None


def matches(conn: Connection, criteria: Criteria, digests: Sequence[str]) -> list[MatchRow]:
    """The matching rows of `digests`, with the digest of the attestation of each."""
    t = criteria.table
    columns: list[Any] = [
        t.c.artifact_digest,
        t.c.attestation_seq,
        attestations.c.digest.label("attestation"),
        t.c.purl,
        t.c.name,
        t.c.version,
        t.c.purl_type,
        t.c.purl_namespace,
        t.c.purl_name,
    ]
    if criteria.findings:
        columns += [t.c.vulnerability, t.c.vuln_id, t.c.severity]
    query = (
        select(*columns)
        .join(attestations, attestations.c.seq == t.c.attestation_seq)
        .where(*criteria.conditions(), t.c.artifact_digest.in_(digests))
        .order_by(t.c.artifact_digest, t.c.attestation_seq, t.c.purl_name, t.c.version)
    )
    out = []
    for row in conn.execute(query):
        m = row._mapping
        out.append(
            MatchRow(
                artifact_digest=m["artifact_digest"],
                attestation_seq=int(m["attestation_seq"]),
                attestation=m["attestation"],
                purl=m["purl"],
                name=m["name"],
                version=m["version"],
                purl_type=m["purl_type"],
                purl_namespace=m["purl_namespace"],
                purl_name=m["purl_name"],
                vulnerability=m.get("vulnerability"),
                vuln_id=m.get("vuln_id"),
                severity=m.get("severity"),
            )
        )
    return out


def records(
    conn: Connection, org_id: uuid.UUID, digests: Sequence[str], window: Window
) -> list[deployment_store.RecordRow]:
    """The records of `digests` in the window, newest first."""
    query = (
        deployment_store.view()
        .where(r.c.org_id == org_id, r.c.artifact_digest.in_(digests), window.condition())
        .order_by(r.c.seq.desc())
    )
    return [deployment_store.record_of(row) for row in conn.execute(query)]


def names(
    conn: Connection, org_id: uuid.UUID, digests: Sequence[str]
) -> dict[str, tuple[str | None, str | None]]:
    """The artifact name and version of each digest's newest named record, any status."""
    newest = (
        select(r.c.artifact_digest, func.max(r.c.seq).label("seq"))
        .where(
            r.c.org_id == org_id,
            r.c.artifact_digest.in_(digests),
            r.c.artifact_name.is_not(None),
        )
        .group_by(r.c.artifact_digest)
        .subquery()
    )
    rows = conn.execute(
        select(r.c.artifact_digest, r.c.artifact_name, r.c.artifact_version).join(
            newest, newest.c.seq == r.c.seq
        )
    )
    return {row.artifact_digest: (row.artifact_name, row.artifact_version) for row in rows}


@dataclass(frozen=True)
class VexRow:
    product_digest: str
    vuln_id: str
    attestation_seq: int
    status: str
    purl_name: str
    purl_type: str
    purl_namespace: str
    version: str | None
    stated_at: dt.datetime | None
    justification: str | None


def vex(
    conn: Connection, org_id: uuid.UUID, digests: Sequence[str], vuln_ids: Sequence[str]
) -> list[VexRow]:
    v = contents_vex
    query = select(
        v.c.product_digest,
        v.c.vuln_id,
        v.c.attestation_seq,
        v.c.status,
        v.c.purl_name,
        v.c.purl_type,
        v.c.purl_namespace,
        v.c.version,
        v.c.stated_at,
        v.c.justification,
    ).where(
        v.c.org_id == org_id,
        v.c.product_digest.in_(digests),
        v.c.vuln_id.in_(vuln_ids),
    )
    return [VexRow(**row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class AttestationInfo:
    digest: str
    predicate_type: str
    verification_status: str
    subjects: list[dict[str, Any]]


def attestation_info(
    conn: Connection, org_id: uuid.UUID, seqs: Sequence[int]
) -> dict[int, AttestationInfo]:
    a = attestations
    rows = conn.execute(
        select(
            a.c.seq, a.c.digest, a.c.predicate_type, a.c.verification_status, a.c.subjects
        ).where(a.c.org_id == org_id, a.c.seq.in_(seqs))
    )
    return {
        int(row.seq): AttestationInfo(
            row.digest, row.predicate_type, row.verification_status, row.subjects
        )
        for row in rows
    }
