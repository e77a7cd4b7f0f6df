"""Read-only queries the dashboard needs beyond the record list: how well an artifact is
attested, which deployment names exist, and when the history starts.

Every query is one index range or a walk over the org's slots (one row per
deployment name, environment, logical environment and kind: thousands, not the
millions of records).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from deploytrace.storage.artifacts import ATTESTING_ROLES, artifact_refs
from deploytrace.storage.attestations import attestations
from deploytrace.storage.deployments import DEPLOYED, deployment_records, deployment_slots

# Digests per IN list: well under every backend's parameter limit.
_CHUNK = 200


@dataclass(frozen=True)
class Attested:
    """How many of the org's attestations name a digest, by verification status."""

    digest: str
    verified: int
    unverified: int
    invalid: int


def attested(conn: Connection, org_id: uuid.UUID, digests: Sequence[str]) -> list[Attested]:
    """Counts of distinct attestations naming each digest (as subject or typed material)."""
    ref, att = artifact_refs, attestations
    counts: dict[str, dict[str, int]] = {d: {} for d in digests}
    unique = sorted(counts)
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        query = (
            select(
                ref.c.digest,
                att.c.verification_status,
                func.count(func.distinct(att.c.seq)),
            )
            .join(att, att.c.seq == ref.c.attestation_seq)
            .where(
                ref.c.org_id == org_id,
                ref.c.digest.in_(chunk),
                ref.c.role.in_(ATTESTING_ROLES),
            )
            .group_by(ref.c.digest, att.c.verification_status)
        )
        for digest, status, count in conn.execute(query):
            counts[digest][status] = count
    return [
        Attested(d, c.get("verified", 0), c.get("unverified", 0), c.get("invalid", 0))
        for d, c in ((d, counts[d]) for d in unique)
    ]


@dataclass(frozen=True)
class NameRow:
    deployment_name: str
    slots: int  # (environment, logical environment, kind) combinations it was ever in
    active: int  # of those, how many run something now


def names(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    contains: str | None,
    after: str | None,
    limit: int,
) -> list[NameRow]:
    """Deployment names in name order, optionally those containing `contains`.

    Two small queries: the page of names from the slots, then how many of their slots
    are active, from the active records alone (never a walk over the history).
    """
    s, r = deployment_slots, deployment_records
    conditions = [s.c.org_id == org_id]
    if contains:
        pattern = f"%{like_escaped(contains)}%"
        conditions.append(s.c.deployment_name.like(pattern, escape="\\"))
    if after is not None:
        conditions.append(s.c.deployment_name > after)
    page = conn.execute(
        select(s.c.deployment_name, func.count())
        .where(*conditions)
        .group_by(s.c.deployment_name)
        .order_by(s.c.deployment_name)
        .limit(limit)
    ).all()
    if not page:
        return []
    active: dict[str, int] = dict(
        conn.execute(
            select(r.c.deployment_name, func.count())
            .where(
                r.c.org_id == org_id,
                r.c.status == DEPLOYED,
                r.c.deployment_name.in_([name for name, _ in page]),
            )
            .group_by(r.c.deployment_name)
        ).all()
    )
    return [NameRow(name, slots, active.get(name, 0)) for name, slots in page]


def ref_digests_with_prefix(conn: Connection, org_id: uuid.UUID, prefix: str) -> list[str]:
    """Distinct digests the org's attestations name that start with `prefix` (a few at most)."""
    ref = artifact_refs
    query = (
        select(ref.c.digest)
        .where(
            ref.c.org_id == org_id,
            ref.c.digest >= prefix,
            ref.c.digest < prefix + "g",
            ref.c.digest.like(prefix + "%"),
            ref.c.role.in_(ATTESTING_ROLES),
        )
        .distinct()
        .limit(6)
    )
    return list(conn.scalars(query))


def like_escaped(text: str) -> str:
    """`text` with LIKE's wildcards escaped (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def first_record_at(conn: Connection, org_id: uuid.UUID) -> dt.datetime | None:
    """When the org's earliest record was created (its history starts there)."""
    r = deployment_records
    found: dt.datetime | None = conn.scalar(
        select(r.c.created_at)
        .where(r.c.org_id == org_id)
        .order_by(r.c.created_at, r.c.seq)
        .limit(1)
    )
    return found
