"""The contents index: components, vulnerability findings and VEX statements per
artifact digest, as attestations state them, and each attestation's indexing state.

One row per (artifact digest, attestation, entry): the digest is the one the
attestation's subject names (or, for Chainloop materials, the material's). Keys
are stored lower-cased in their own columns (no expression indexes), so one
b-tree `(org, name, digest, type, namespace, version)` answers a purl search
(with or without version), a component-name search and the distinct versions a
version range is checked against. Its digest order is the order of the result
pages: the first page of "which artifacts contain openssl" stops after the
first artifacts that run, however many artifacts contain it, and type,
namespace and version are checked in the index itself. A second one,
`(org, name, version, digest)`, keeps a versioned purl (log4j-core@2.14.1 among
thousands of log4j-core) to the rows of that version. Findings are keyed the
same way by upper-cased advisory id, one row per id a finding is known by
(aliases too).

An attestation whose rows fit in one chunk is indexed inside its push
transaction; a bigger one is marked `pending` there and indexed after the push
commits, chunk by chunk, each chunk a short transaction of its own (see
`services.contents`). A chunk is claimed by a compare-and-set on
`chunks_done` under the run's token, so an interrupted run can be taken over
(repair, reindex) without a row written twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    delete,
    insert,
    select,
    update,
)

from deploytrace.storage.attestations import attestations
from deploytrace.storage.base import UTCDateTime, insert_ignoring_conflicts, metadata, utcnow

if TYPE_CHECKING:
    # Types only: the library (and packageurl) loads when something is indexed.
    from deploytrace.contents import Contents, Package

INDEXED = "indexed"
PENDING = "pending"
_PENDING_WHERE = "state = 'pending'"

# Rows written in one transaction; an attestation with more is indexed in
# chunks after its push (bench/search.py measures both). SQLite: every write
# transaction holds the database's one write lock, so a chunk costs about what
# an ordinary SBOM push (~1,000 components) holds it. PostgreSQL: chunks take no
# org-wide lock (only the push's audit append does), so they are bigger, and
# written with COPY.
CHUNK_ROWS = {"sqlite": 1_000, "postgresql": 10_000}
_COPY_FROM = 100  # rows: below this, INSERT is as quick as setting COPY up


def chunk_rows(conn: Connection) -> int:
    return CHUNK_ROWS.get(conn.dialect.name, 1_000)


def chunked(rows: list[Row], size: int) -> list[list[Row]]:
    """Chunks of `size` rows; one empty chunk when there are none (it flips the state)."""
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


contents_components = Table(
    "contents_components",
    metadata,
    Column("org_id", Uuid, nullable=False),
    Column("artifact_digest", String(255), nullable=False),
    Column("attestation_seq", BigInteger, ForeignKey("attestations.seq"), nullable=False),
    Column("purl_name", String(255), nullable=False),
    Column("purl_type", String(64), nullable=False),
    Column("purl_namespace", String(255), nullable=False),
    Column("version", String(255)),
    Column("purl", Text),
    Column("name", Text, nullable=False),
    Index(
        "ix_contents_components_key",
        "org_id",
        "purl_name",
        "artifact_digest",
        "purl_type",
        "purl_namespace",
        "version",
    ),
    # A purl with a version, or the versions a range admits: only the rows of those
    # versions, still in digest order for one version.
    Index(
        "ix_contents_components_version",
        "org_id",
        "purl_name",
        "version",
        "artifact_digest",
    ),
    Index("ix_contents_components_org_id_artifact_digest", "org_id", "artifact_digest"),
    Index("ix_contents_components_attestation_seq", "attestation_seq"),
)

contents_findings = Table(
    "contents_findings",
    metadata,
    Column("org_id", Uuid, nullable=False),
    Column("artifact_digest", String(255), nullable=False),
    Column("attestation_seq", BigInteger, ForeignKey("attestations.seq"), nullable=False),
    Column("vuln_id", String(255), nullable=False),  # upper case: the search key
    Column("vulnerability", String(255), nullable=False),  # as the document writes it
    Column("severity", String(16)),
    Column("purl_name", String(255), nullable=False),
    Column("purl_type", String(64), nullable=False),
    Column("purl_namespace", String(255), nullable=False),
    Column("version", String(255)),
    Column("purl", Text),
    Column("name", Text),
    Index(
        "ix_contents_findings_key",
        "org_id",
        "vuln_id",
        "artifact_digest",
        "purl_name",
        "purl_type",
        "purl_namespace",
        "version",
    ),
    Index("ix_contents_findings_org_id_artifact_digest", "org_id", "artifact_digest"),
    Index("ix_contents_findings_attestation_seq", "attestation_seq"),
)

contents_vex = Table(
    "contents_vex",
    metadata,
    Column("org_id", Uuid, nullable=False),
    Column("product_digest", String(255), nullable=False),
    Column("vuln_id", String(255), nullable=False),
    Column("attestation_seq", BigInteger, ForeignKey("attestations.seq"), nullable=False),
    Column("status", String(24), nullable=False),
    # The subcomponent the statement is limited to; "" name: the whole product.
    Column("purl_name", String(255), nullable=False),
    Column("purl_type", String(64), nullable=False),
    Column("purl_namespace", String(255), nullable=False),
    Column("version", String(255)),
    Column("stated_at", UTCDateTime),
    Column("justification", Text),
    Index("ix_contents_vex_key", "org_id", "product_digest", "vuln_id"),
    Index("ix_contents_vex_attestation_seq", "attestation_seq"),
)

attestation_contents = Table(
    "attestation_contents",
    metadata,
    Column(
        "attestation_seq",
        BigInteger,
        ForeignKey("attestations.seq"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("formats", String(255), nullable=False),
    Column("components", Integer, nullable=False),
    Column("findings", Integer, nullable=False),
    Column("statements", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("chunks_done", Integer, nullable=False),
    Column("token", Uuid),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(
        "ix_attestation_contents_pending",
        "attestation_seq",
        postgresql_where=_PENDING_WHERE,
        sqlite_where=_PENDING_WHERE,
    ),
)

_TABLES = {"c": contents_components, "f": contents_findings, "v": contents_vex}
Row = tuple[str, dict[str, Any]]  # (table tag, values)


@dataclass
class Pending:
    """An attestation whose rows are to be written in chunks after its push commits."""

    org_id: uuid.UUID
    seq: int
    token: uuid.UUID
    chunks: list[list[Row]] = field(repr=False)
    done: int = 0


def _key(package: Package | None) -> dict[str, Any]:
    if package is None:
        return {
            "purl_name": "",
            "purl_type": "",
            "purl_namespace": "",
            "version": None,
            "purl": None,
            "name": None,
        }
    return {
        "purl_name": package.name,
        "purl_type": package.type,
        "purl_namespace": package.namespace,
        "version": package.version,
        "purl": package.purl,
        "name": package.display_name,
    }


def _instant(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def build_rows(
    org_id: uuid.UUID, seq: int, subject_digests: Sequence[str], contents: Contents
) -> list[Row]:
    """Every row the attestation adds, in a fixed order (chunks are cut from it)."""
    subjects = list(dict.fromkeys(subject_digests))
    rows: list[Row] = []
    base = {"org_id": org_id, "attestation_seq": seq}
    for component in contents.components:
        values = _key(component.package)
        for digest in (component.artifact,) if component.artifact else subjects:
            rows.append(("c", {**base, "artifact_digest": digest, **values}))
    for finding in contents.findings:
        values = _key(finding.package)
        written = {finding.vulnerability.upper(): finding.vulnerability}
        written.update((a.upper(), a) for a in finding.aliases if a.upper() not in written)
        for digest in (finding.artifact,) if finding.artifact else subjects:
            for vuln_id, as_written in written.items():
                rows.append(
                    (
                        "f",
                        {
                            **base,
                            "artifact_digest": digest,
                            "vuln_id": vuln_id,
                            "vulnerability": as_written,
                            "severity": finding.severity,
                            **values,
                        },
                    )
                )
    for statement in contents.statements:
        products = statement.products or tuple(subjects)
        for package in statement.subcomponents or (None,):
            values = _key(package)
            del values["purl"], values["name"]
            for digest in products:
                for vuln_id in statement.ids:
                    rows.append(
                        (
                            "v",
                            {
                                **base,
                                "product_digest": digest,
                                "vuln_id": vuln_id,
                                "status": statement.status,
                                "stated_at": _instant(statement.timestamp),
                                "justification": statement.justification,
                                **values,
                            },
                        )
                    )
    return rows


def _insert_rows(conn: Connection, rows: Iterable[Row]) -> None:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for tag, values in rows:
        grouped.setdefault(tag, []).append(values)
    for tag, values_list in grouped.items():
        table = _TABLES[tag]
        if conn.dialect.name == "postgresql" and len(values_list) >= _COPY_FROM:
            _copy(conn, table, values_list)
        else:
            conn.execute(insert(table), values_list)


def _copy(conn: Connection, table: Table, values_list: list[dict[str, Any]]) -> None:
    """COPY in the connection's transaction: several times quicker than multi-row INSERTs."""
    columns = [c.name for c in table.columns]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with cursor.copy(statement) as copy:
        for values in values_list:
            copy.write_row([values.get(c) for c in columns])


def _state(
    org_id: uuid.UUID, seq: int, contents: Contents, *, state: str, chunks: int, token: Any
) -> dict[str, Any]:
    return {
        "attestation_seq": seq,
        "org_id": org_id,
        "state": state,
        "formats": ",".join(contents.formats)[:255],
        "components": len(contents.components),
        "findings": len(contents.findings),
        "statements": len(contents.statements),
        "skipped": contents.skipped,
        "chunks": chunks,
        "chunks_done": 0,
        "token": token,
        "updated_at": utcnow(),
    }


def index(
    conn: Connection,
    org_id: uuid.UUID,
    attestation_seq: int,
    subject_digests: Sequence[str],
    contents: Contents,
) -> Pending | None:
    """Index one attestation in the caller's transaction.

    Up to `chunk_rows` rows are written here and the attestation is `indexed`;
    more are only planned: the attestation is `pending` and the returned
    `Pending` is for `services.contents.complete` once the transaction commits.
    None also when another indexer has the attestation already.
    """
    rows = build_rows(org_id, attestation_seq, subject_digests, contents)
    size = chunk_rows(conn)
    big = len(rows) > size
    token = uuid.uuid4() if big else None
    chunks = chunked(rows, size) if big else []
    state = _state(
        org_id,
        attestation_seq,
        contents,
        state=PENDING if big else INDEXED,
        chunks=len(chunks),
        token=token,
    )
    statement: Any = (
        insert_ignoring_conflicts(conn, attestation_contents)
        .values(**state)
        .on_conflict_do_nothing()
    )
    if conn.execute(statement).rowcount == 0:
        return None
    if not big:
        _insert_rows(conn, rows)
        return None
    assert token is not None
    return Pending(org_id, attestation_seq, token, chunks)


def write_chunk(conn: Connection, pending: Pending) -> bool:
    """Write the next chunk if this run still owns the attestation; False otherwise."""
    s = attestation_contents
    k = pending.done
    last = k + 1 == len(pending.chunks)
    claimed = conn.execute(
        update(s)
        .where(
            s.c.attestation_seq == pending.seq,
            s.c.token == pending.token,
            s.c.chunks_done == k,
        )
        .values(
            chunks_done=k + 1,
            state=INDEXED if last else PENDING,
            token=None if last else pending.token,
            updated_at=utcnow(),
        )
    ).rowcount
    if not claimed:
        return False
    _insert_rows(conn, pending.chunks[k])
    pending.done = k + 1
    return True


def take_over(conn: Connection, pending: Pending, previous: uuid.UUID | None) -> bool:
    """Restart an interrupted run under `pending.token`: its rows so far are removed."""
    s = attestation_contents
    taken = conn.execute(
        update(s)
        .where(
            s.c.attestation_seq == pending.seq,
            s.c.state == PENDING,
            s.c.token == previous if previous is not None else s.c.token.is_(None),
        )
        .values(token=pending.token, chunks_done=0, chunks=len(pending.chunks), updated_at=utcnow())
    ).rowcount
    if taken:
        delete_rows(conn, pending.seq)
    return bool(taken)


def delete_rows(conn: Connection, seq: int) -> None:
    for table in _TABLES.values():
        conn.execute(delete(table).where(table.c.attestation_seq == seq))


def forget(conn: Connection, seq: int) -> None:
    """Drop an attestation's index rows and state (to index it again)."""
    delete_rows(conn, seq)
    s = attestation_contents
    conn.execute(delete(s).where(s.c.attestation_seq == seq))


@dataclass(frozen=True)
class Stored:
    seq: int
    org_id: uuid.UUID
    content: bytes


def unindexed(conn: Connection, *, after: int, limit: int, everything: bool) -> list[int]:
    """Seqs of attestations never indexed (or all of them), in seq order."""
    a, s = attestations, attestation_contents
    query = select(a.c.seq).where(a.c.seq > after).order_by(a.c.seq).limit(limit)
    if not everything:
        query = query.outerjoin(s, s.c.attestation_seq == a.c.seq).where(
            s.c.attestation_seq.is_(None)
        )
    return [int(seq) for seq in conn.scalars(query)]


def pending(conn: Connection) -> list[tuple[int, uuid.UUID | None]]:
    s = attestation_contents
    rows = conn.execute(
        select(s.c.attestation_seq, s.c.token)
        .where(s.c.state == PENDING)
        .order_by(s.c.attestation_seq)
    )
    return [(int(r.attestation_seq), r.token) for r in rows]


def stored(conn: Connection, seqs: Sequence[int]) -> list[Stored]:
    a = attestations
    rows = conn.execute(
        select(a.c.seq, a.c.org_id, a.c.content).where(a.c.seq.in_(seqs)).order_by(a.c.seq)
    )
    return [Stored(int(r.seq), r.org_id, bytes(r.content)) for r in rows]


def sizes(conn: Connection, seqs: Sequence[int]) -> dict[int, int]:
    a = attestations
    rows = conn.execute(select(a.c.seq, a.c.size).where(a.c.seq.in_(seqs)))
    return {int(r.seq): int(r.size) for r in rows}
