"""Indexing what attestations say about artifact contents: at push, after it, and later.

Extraction (`deploytrace.contents`, CPU work) runs before the push transaction
opens. In the transaction, an attestation with up to `storage.contents.CHUNK_ROWS`
index rows is indexed with the rest of the push (before the audit append that
locks the org's head); a bigger one (a 100,000-component SBOM) is only marked
`pending` there, and its rows are written after the push commits, in chunks,
each chunk its own short transaction: no write lock (SQLite's, or the org's
audit head on PostgreSQL) is held longer than a normal push holds it. Should
the process stop in between, the attestation stays `pending` and `repair`
(server start, `db reindex`) finishes it.

`reindex` indexes attestations stored before the index existed (no state row),
or every attestation again after the extractor changed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from deploytrace.errors import DeploytraceError
from deploytrace.storage import contents as store
from deploytrace.storage.db import Database

if TYPE_CHECKING:
    from deploytrace.contents import Contents

log = logging.getLogger("deploytrace.contents")

# Reindex reads stored attestations in batches of at most this many bytes.
_BATCH_BYTES = 16 * 1024 * 1024
_BATCH_ITEMS = 200


def subject_digests(att: Any) -> list[str]:
    """The digests an attestation's subjects name, as the artifact index keys them."""
    return [ref.digest for ref in att.refs if ref.role == "subject"]


def extract(att: Any) -> Contents:
    """What `att` (a parsed attestation) says about contents; a reader's failure on
    an odd document counts as one skipped entry instead of failing the push."""
    from deploytrace.contents import Contents, extract

    try:
        return extract(att)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError) as error:
        log.warning("contents of attestation %s not readable: %r", att.digest, error)
        return Contents(skipped=1)


@dataclass
class Plan:
    """A push's indexing: contents extracted up front, rows written in the push's
    transaction (`index`), the big ones finished after it commits (`complete`)."""

    parsed: Iterable[Any]
    found: dict[str, Contents] = field(init=False)
    later: list[store.Pending] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.found = {att.digest: extract(att) for att in self.parsed}

    def index(self, conn: Connection, org_id: uuid.UUID, seq: int, att: Any) -> None:
        contents = self.found.get(att.digest)
        if contents is None:
            contents = self.found[att.digest] = extract(att)
        pending = store.index(conn, org_id, seq, subject_digests(att), contents)
        if pending is not None:
            self.later.append(pending)

    def complete(self, db: Database) -> None:
        complete(db, self.later)
        self.later = []


def complete(db: Database, runs: list[store.Pending]) -> None:
    """Write the chunks of pending attestations, one short transaction each.

    A database failure here leaves the attestation `pending` (its push has
    committed; `repair` finishes it) rather than failing the push.
    """
    for run in runs:
        try:
            while run.done < len(run.chunks):
                with db.write() as conn:
                    if not store.write_chunk(conn, run):
                        log.info("attestation %s: indexing taken over elsewhere", run.seq)
                        break
        except DeploytraceError as error:
            log.warning("attestation %s left pending: %s", run.seq, error)


@dataclass
class ReindexReport:
    attestations: int = 0
    with_contents: int = 0
    components: int = 0
    findings: int = 0
    statements: int = 0
    skipped: int = 0
    unreadable: int = 0
    repaired: int = 0

    def add(self, contents: Contents) -> None:
        self.attestations += 1
        self.with_contents += bool(contents)
        self.components += len(contents.components)
        self.findings += len(contents.findings)
        self.statements += len(contents.statements)
        self.skipped += contents.skipped


def _read_stored(content: bytes, report: ReindexReport) -> tuple[Contents, list[str]]:
    from deploytrace.attestations import parse
    from deploytrace.contents import Contents

    try:
        att = parse(content)[0]
    except DeploytraceError:
        report.unreadable += 1
        return Contents(), []
    return extract(att), subject_digests(att)


def reindex(db: Database, *, everything: bool = False) -> ReindexReport:
    """Index every stored attestation that has never been indexed (all of them with
    `everything`), then finish interrupted runs. Safe to run while the server runs
    and twice at once: an attestation's state row decides who indexes it."""
    report = ReindexReport()
    report.repaired = repair(db)
    after = 0
    while True:
        with db.read() as conn:
            seqs = store.unindexed(conn, after=after, limit=_BATCH_ITEMS, everything=everything)
        if not seqs:
            return report
        after = seqs[-1]
        for batch in _batches(db, seqs):
            for item in batch:
                contents, subjects = _read_stored(item.content, report)
                report.add(contents)
                with db.write() as conn:
                    if everything:
                        store.forget(conn, item.seq)
                    run = store.index(conn, item.org_id, item.seq, subjects, contents)
                if run is not None:
                    complete(db, [run])


def _batches(db: Database, seqs: list[int]) -> Iterable[list[store.Stored]]:
    with db.read() as conn:
        sizes = store.sizes(conn, seqs)
    group: list[int] = []
    total = 0
    for seq in seqs:
        size = sizes.get(seq, 0)
        if group and total + size > _BATCH_BYTES:
            yield _load(db, group)
            group, total = [], 0
        group.append(seq)
        total += size
    if group:
        yield _load(db, group)


def _load(db: Database, seqs: list[int]) -> list[store.Stored]:
    with db.read() as conn:
        return store.stored(conn, seqs)


def repair(db: Database) -> int:
    """Finish the attestations left `pending` by an interrupted run; how many."""
    with db.read() as conn:
        waiting = store.pending(conn)
    done = 0
    scratch = ReindexReport()
    for seq, token in waiting:
        loaded = _load(db, [seq])
        if not loaded:
            continue
        item = loaded[0]
        contents, subjects = _read_stored(item.content, scratch)
        rows = store.build_rows(item.org_id, seq, subjects, contents)
        with db.write() as conn:
            run = store.Pending(
                item.org_id, seq, uuid.uuid4(), store.chunked(rows, store.chunk_rows(conn))
            )
            taken = store.take_over(conn, run, token)
        if taken:
            complete(db, [run])
            done += 1
    return done
