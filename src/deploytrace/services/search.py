"""Vulnerability and SBOM impact (SPEC §10): which artifacts contain a package or are
affected by a vulnerability, with the attestation that says so and where they run.

`search` answers one page of artifacts (keyset on the artifact digest). What a
query names is checked by the ecosystem's parsers: purls by packageurl-python,
version ranges (vers) by univers; their complaint is the error message. The
time window follows SPEC §8: now (records `deployed`), `at` an instant
(`created_at <= T` and no end or `ended_at > T`) or ever (`history`).

VEX: a finding is suppressed when the latest VEX statement (by its timestamp,
then by attestation) about that vulnerability in that product (the artifact
digest) that applies to the finding's package says `not_affected` or `fixed`.
Suppressed findings are left out unless asked for; an artifact whose every
match is suppressed is then left out too (a page may hold fewer artifacts
than its limit; its cursor still leads on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from deploytrace.errors import InvalidInput
from deploytrace.services import pagination
from deploytrace.services.context import Action, Actor
from deploytrace.services.records import Record
from deploytrace.storage import deployments as deployment_store
from deploytrace.storage import search as store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database

if TYPE_CHECKING:
    from deploytrace.contents.ranges import VersionRange

MAX_NAME = 255
_SUPPRESSING = ("not_affected", "fixed")
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Query:
    purl: str | None = None
    component: str | None = None
    cve: str | None = None
    version_range: str | None = None
    at: str | dt.datetime | None = None
    history: bool = False
    all: bool = False
    include_suppressed: bool = False
    limit: int | None = None
    cursor: str | None = None


@dataclass(frozen=True)
class Suppression:
    attestation: str
    verification: str
    status: str
    justification: str | None


@dataclass(frozen=True)
class Match:
    purl: str | None
    name: str | None
    version: str | None
    vulnerability: str | None
    severity: str | None
    attestation: str
    suppression: Suppression | None = None


@dataclass
class Hit:
    digest: str
    name: str | None
    version: str | None
    matches: list[Match] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    suppressed: bool = False


def instant(value: str | dt.datetime) -> dt.datetime:
    """An RFC 3339 instant (`2026-01-31T12:00:00Z`); no offset means UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                f"invalid time {value!r}: use RFC 3339, e.g. 2026-01-31T12:00:00Z"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _window(query: Query) -> store.Window:
    if query.at is not None and query.history:
        raise InvalidInput("--at and --history exclude each other: an instant, or ever")
    if query.at is not None:
        return store.Window("at", instant(query.at))
    return store.Window("history" if query.history else "now")


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"invalid {what} {value!r}: at most {MAX_NAME} printable characters")
    return value


def criteria(actor: Actor, query: Query) -> tuple[store.Criteria, VersionRange | None]:
    """What to match, and the parsed version range (checked against stored versions)."""
    if query.purl is None and query.component is None and query.cve is None:
        raise InvalidInput("search for something: --purl, --component or --cve")
    if query.purl is not None and query.component is not None:
        raise InvalidInput("--purl and --component exclude each other")
    name = type_ = namespace = None
    exact: tuple[str, ...] | None = None
    if query.purl is not None:
        from deploytrace.contents import purls

        wanted = purls.query(_text(query.purl, "purl"))
        name, type_, namespace = wanted.name, wanted.type, wanted.namespace
        exact = (wanted.version,) if wanted.version else None
    elif query.component is not None:
        name = _text(query.component, "component name").lower()
    vuln_id = None
    if query.cve is not None:
        vuln_id = _text(query.cve, "vulnerability id").upper()
        if any(c.isspace() for c in vuln_id):
            raise InvalidInput(f"invalid vulnerability id {query.cve!r}: no spaces")
    version_range = None
    if query.version_range is not None:
        from deploytrace.contents import ranges

        if name is None:
            raise InvalidInput("--version-range needs --purl (without a version) or --component")
        if exact is not None:
            raise InvalidInput(
                "the purl names a version already: drop @version to search a --version-range"
            )
        version_range = ranges.parse(_text(query.version_range, "version range"))
        if type_:
            version_range.check_type(type_)
    found = store.Criteria(
        org_id=actor.org_id,
        findings=vuln_id is not None,
        name=name,
        type=type_,
        namespace=namespace,
        versions=exact,
        vuln_id=vuln_id,
    )
    return found, version_range


def search(db: Database, actor: Actor, query: Query) -> pagination.Page[Hit]:
    """One page of the artifacts matching `query`, digest order, with their matches
    (each naming the attestation that says so) and their records in the window."""
    actor.require(Action.READ)
    size = pagination.limit(query.limit)
    after = pagination.decode(query.cursor, str)
    window = _window(query)
    wanted, version_range = criteria(actor, query)
    with db.read() as conn:
        if version_range is not None:
            inside = version_range.matching(store.versions(conn, wanted))
            if not inside:
                return pagination.Page([], None)
            wanted = replace(wanted, versions=tuple(sorted(inside)))
        digests = store.artifacts(
            conn, wanted, window, everywhere=query.all, after=after, limit=size + 1
        )
        more = len(digests) > size
        digests = digests[:size]
        if not digests:
            return pagination.Page([], None)
        rows = store.matches(conn, wanted, digests)
        records = store.records(conn, actor.org_id, digests, window)
        vex_rows = (
            store.vex(conn, actor.org_id, digests, sorted({r.vuln_id for r in rows if r.vuln_id}))
            if wanted.findings
            else []
        )
        # An artifact is named by its newest record in the window; failing that (it runs
        # nowhere then, or was recorded by digest alone) by its newest record at all,
        # else by the subject of the attestation that matched.
        named = {r.artifact_digest for r in records if r.artifact_name}
        unnamed = [d for d in digests if d not in named]
        names = store.names(conn, actor.org_id, unnamed) if unnamed else {}
        seqs = {v.attestation_seq for v in vex_rows}
        seqs |= {r.attestation_seq for r in rows if r.artifact_digest in unnamed}
        info = store.attestation_info(conn, actor.org_id, sorted(seqs)) if seqs else {}
    hits = _assemble(digests, rows, records, vex_rows, info, names)
    if not query.include_suppressed:
        hits = [_unsuppressed(h) for h in hits]
        hits = [h for h in hits if h.matches]
    return pagination.Page(hits, pagination.encode(digests[-1]) if more else None)


def _unsuppressed(hit: Hit) -> Hit:
    kept = [m for m in hit.matches if m.suppression is None]
    return Hit(hit.digest, hit.name, hit.version, kept, hit.records, False)


def _assemble(
    digests: list[str],
    rows: list[store.MatchRow],
    records: list[deployment_store.RecordRow],
    vex_rows: list[store.VexRow],
    info: dict[int, store.AttestationInfo],
    names: dict[str, tuple[str | None, str | None]],
) -> list[Hit]:
    hits = {d: Hit(d, None, None) for d in digests}
    now = utcnow()
    for record in records:  # newest first: the first one names the artifact
        hit = hits[record.artifact_digest]
        if not hit.records:
            hit.name, hit.version = record.artifact_name, record.artifact_version
        hit.records.append(Record.of(record, now))
    for digest, (name, version) in names.items():
        if name:
            hits[digest].name, hits[digest].version = name, version
    statements: dict[tuple[str, str], list[store.VexRow]] = {}
    for v in vex_rows:
        statements.setdefault((v.product_digest, v.vuln_id), []).append(v)
    seen: set[tuple[object, ...]] = set()
    for row in rows:
        key = (
            row.artifact_digest,
            row.purl,
            row.name,
            row.version,
            row.vuln_id,
            row.attestation_seq,
        )
        if key in seen:
            continue
        seen.add(key)
        hit = hits[row.artifact_digest]
        attestation = info.get(row.attestation_seq)
        if hit.name is None and attestation is not None:
            hit.name = _subject_name(attestation, row.artifact_digest)
        suppression = None
        if row.vuln_id is not None:
            suppression = _suppression(
                row, statements.get((row.artifact_digest, row.vuln_id)), info
            )
        hit.matches.append(
            Match(
                purl=row.purl,
                name=row.name,
                version=row.version,
                vulnerability=row.vulnerability,
                severity=row.severity,
                attestation=row.attestation,
                suppression=suppression,
            )
        )
    for hit in hits.values():
        hit.suppressed = bool(hit.matches) and all(m.suppression for m in hit.matches)
    return list(hits.values())


def _subject_name(attestation: store.AttestationInfo, digest: str) -> str | None:
    algorithm, _, value = digest.partition(":")
    for subject in attestation.subjects:
        digests = subject.get("digest") or {}
        if isinstance(digests, dict) and str(digests.get(algorithm, "")).lower() == value:
            name = subject.get("name")
            return name if isinstance(name, str) else None
    return None


def _applies(statement: store.VexRow, row: store.MatchRow) -> bool:
    if not statement.purl_name:
        return True
    return (
        statement.purl_name == row.purl_name
        and statement.purl_type == row.purl_type
        and statement.purl_namespace == row.purl_namespace
        and (statement.version is None or statement.version == row.version)
    )


def _suppression(
    row: store.MatchRow,
    statements: list[store.VexRow] | None,
    info: dict[int, store.AttestationInfo],
) -> Suppression | None:
    applicable = [s for s in statements or () if _applies(s, row)]
    if not applicable:
        return None
    latest = max(applicable, key=lambda s: (s.stated_at or _EARLIEST, s.attestation_seq))
    if latest.status not in _SUPPRESSING:
        return None
    attestation = info.get(latest.attestation_seq)
    if attestation is None:
        return None
    return Suppression(
        attestation=attestation.digest,
        verification=attestation.verification_status,
        status=latest.status,
        justification=latest.justification,
    )
