"""What the dashboard asks beyond the record list (read-only): how well the artifacts in
view are attested, which deployment names exist, a quick lookup for the search box
(name, version, digest prefix), and where the history starts (the time slider's range).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import func, or_

from deploytrace.errors import InvalidInput
from deploytrace.services import pagination, prefixes, validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.records import Record
from deploytrace.storage import dashboard_support as store
from deploytrace.storage import deployments as records_store
from deploytrace.storage.base import utcnow
from deploytrace.storage.dashboard_support import Attested, NameRow
from deploytrace.storage.db import Database

MAX_DIGESTS = 500
MAX_QUERY = 253
NAMES_SHOWN = 20
RECORDS_SHOWN = 50
_BARE_HEX = re.compile(r"^[0-9a-f]+$")
_SIZES = (("sha256", 64), ("sha512", 128))

__all__ = ["Attested", "Lookup", "NameRow", "attested", "first_record_at", "lookup", "names"]


def attested(db: Database, actor: Actor, digests: list[str]) -> list[Attested]:
    """For each digest (at most 500, whole digests), how many of the org's attestations
    name it as subject or typed material, by verification status; in digest order."""
    actor.require(Action.READ)
    if len(digests) > MAX_DIGESTS:
        raise InvalidInput(f"at most {MAX_DIGESTS} digests per request, got {len(digests)}")
    checked = [validation.digest(d) for d in digests]
    with db.read() as conn:
        return store.attested(conn, actor.org_id, checked)


def names(
    db: Database,
    actor: Actor,
    *,
    contains: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> pagination.Page[NameRow]:
    """Deployment names of the org in name order (optionally those containing a text),
    with how many slots each was ever in and how many run something now."""
    actor.require(Action.READ)
    size = pagination.limit(limit)
    after = pagination.decode(cursor, str)
    text = _query_text(contains) if contains else None
    with db.read() as conn:
        rows = store.names(conn, actor.org_id, contains=text, after=after, limit=size + 1)
    return pagination.page(rows, size, lambda row: row.deployment_name)


@dataclass(frozen=True)
class Lookup:
    """What a search-box text names: deployment names containing it, active records whose
    version starts with it or whose artifact name contains it, digests it is a prefix of."""

    deployment_names: list[NameRow]
    records: list[Record]
    digests: list[str]


def lookup(db: Database, actor: Actor, text: str) -> Lookup:
    """Names, running records and digests matching a search-box text (see `Lookup`)."""
    actor.require(Action.READ)
    query = _query_text(text)
    lowered = query.lower()
    now = utcnow()
    r = records_store.deployment_records
    escaped = store.like_escaped(lowered)
    with db.read() as conn:
        found_names = store.names(
            conn, actor.org_id, contains=lowered, after=None, limit=NAMES_SHOWN
        )
        rows = records_store.list_page(
            conn,
            records_store.Filters(org_id=actor.org_id),
            before=None,
            limit=RECORDS_SHOWN,
            extra=[
                or_(
                    func.lower(r.c.artifact_version).like(f"{escaped}%", escape="\\"),
                    func.lower(r.c.artifact_name).like(f"%{escaped}%", escape="\\"),
                )
            ],
        )
        digests: set[str] = set()
        for prefix in _digest_prefixes(lowered):
            digests.update(records_store.digests_with_prefix(conn, actor.org_id, prefix))
            digests.update(store.ref_digests_with_prefix(conn, actor.org_id, prefix))
    return Lookup(
        deployment_names=found_names,
        records=[Record.of(row, now) for row in rows],
        digests=sorted(digests),
    )


def first_record_at(db: Database, actor: Actor) -> dt.datetime | None:
    """When the org's earliest deployment record was created; None without records."""
    actor.require(Action.READ)
    with db.read() as conn:
        return store.first_record_at(conn, actor.org_id)


def _query_text(value: str) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput("the search text must not be empty")
    checked = validation.text(text, "search text", MAX_QUERY)
    assert checked is not None
    return checked


def _digest_prefixes(text: str) -> list[str]:
    """`sha256:…`/`sha512:…` prefixes (or whole digests) the text can be; bare hex
    (at least 8 characters) is tried under both algorithms."""
    if ":" in text:
        prefix = prefixes.digest_prefix(text)
        if prefix is not None:
            return [prefix]
        try:
            return [validation.digest(text)]
        except InvalidInput:
            return []
    if not _BARE_HEX.match(text) or len(text) < prefixes.MIN_HEX:
        return []
    return [f"{algorithm}:{text}" for algorithm, size in _SIZES if len(text) <= size]
