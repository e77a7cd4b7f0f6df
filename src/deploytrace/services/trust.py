"""Trust: the public keys and Sigstore roots whose signatures an organization accepts.

A verdict names the key that gave it (`key:NAME`) and keeps that key's
fingerprint: trust material is identified by content, so a key removed and
re-added under the same name is another key and vouches for nothing signed by
the old one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from deploytrace.errors import Conflict, NotFound
from deploytrace.services import audit, validation
from deploytrace.services.context import Action, Actor
from deploytrace.storage import trust as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import TrustKind

if TYPE_CHECKING:
    # Imported on use only: it pulls in sigstore, which the record path never needs
    # and which costs the embedded CLI a third of its start-up.
    from deploytrace import attestations as formats

PUBLIC_GOOD = "public-good"  # deploytrace.attestations.PUBLIC_GOOD, without importing it
RESERVED_TRUST_NAMES = frozenset({PUBLIC_GOOD})
KEY_METHOD = "public-key"  # deploytrace.attestations.verify.KEY_METHOD
KEY_IDENTITY = "key:"  # how a key verdict names its key: key:NAME


@dataclass(frozen=True)
class TrustEntry:
    """One thing the organization trusts (the built-in public-good root included)."""

    name: str
    kind: TrustKind
    fingerprint: str  # sha256 of the PEM or trusted_root.json as added
    builtin: bool
    created_at: dt.datetime | None


@dataclass(frozen=True)
class Trust:
    """The organization's trust material at one moment, ready to verify signatures with."""

    store: formats.TrustStore
    key_fingerprints: dict[str, str] = field(default_factory=dict)  # key name -> fingerprint

    def key_fingerprint(self, verdict: formats.Verification) -> str | None:
        """The fingerprint of the trusted key that gave `verdict`, if a key gave it."""
        if verdict.method != KEY_METHOD or not verdict.identity:
            return None
        name = verdict.identity.removeprefix(KEY_IDENTITY)
        if name == verdict.identity:
            return None
        return self.key_fingerprints.get(name)


def load(conn: Connection, org_id: uuid.UUID) -> Trust:
    """The organization's trust material, read in the caller's transaction.

    Building the verifiers is cached by content, so only the first push after a
    change pays for it.
    """
    rows = store.list_trust(conn, org_id)
    material = tuple((r.name, r.kind, r.content) for r in rows)
    fingerprints = {r.name: r.fingerprint for r in rows if r.kind == TrustKind.KEY}
    return Trust(_trust_store(material), fingerprints)


@functools.lru_cache(maxsize=64)
def _trust_store(material: tuple[tuple[str, str, bytes], ...]) -> formats.TrustStore:
    from deploytrace import attestations as formats

    keys = [(name, content) for name, kind, content in material if kind == TrustKind.KEY]
    roots = [(name, content) for name, kind, content in material if kind == TrustKind.ROOT]
    return formats.TrustStore(keys=keys, roots=roots)


def fingerprint(content: bytes) -> str:
    """How trust material is identified: the sha256 of its bytes as added."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def add_trust(
    db: Database, actor: Actor, *, name: str, kind: TrustKind | str, content: bytes
) -> TrustEntry:
    """Trust a public key (`kind` key, PEM) or a Sigstore root (`kind` root, trusted_root.json).

    Admins only. `InvalidInput` for unusable material or a name that is not a
    DNS label; `Conflict` for a name in use (or the built-in `public-good`).
    """
    from deploytrace import attestations as formats

    actor.require(Action.ADMIN)
    kind = TrustKind(kind)
    validation.dns_label(name, "trust material name")
    if name in RESERVED_TRUST_NAMES:
        raise Conflict(f"{name!r} is the built-in Sigstore public-good root")
    if kind == TrustKind.KEY:
        formats.load_public_key(content)
    else:
        formats.load_trusted_root(content)
    sha = fingerprint(content)
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
                "fingerprint": sha,
                "created_at": now,
            },
        )
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "trust.added",
            f"trust/{name}",
            {"kind": kind, "fingerprint": sha},
        )
    return TrustEntry(name, kind, sha, False, now)


def list_trust(db: Database, actor: Actor) -> list[TrustEntry]:
    """The built-in public-good root first, then the organization's material by name."""
    actor.require(Action.READ)
    with db.read() as conn:
        rows = store.list_trust(conn, actor.org_id)
    builtin = TrustEntry(PUBLIC_GOOD, TrustKind.ROOT, _public_good_fingerprint(), True, None)
    return [builtin] + [
        TrustEntry(r.name, TrustKind(r.kind), r.fingerprint, False, r.created_at) for r in rows
    ]


@functools.cache
def _public_good_fingerprint() -> str:
    from importlib import resources

    data = resources.files("deploytrace.attestations").joinpath("roots", "public-good.json")
    return fingerprint(data.read_bytes())


def remove_trust(db: Database, actor: Actor, name: str) -> None:
    """Stop trusting `name` (admins only). Verdicts already stored keep what they said.

    `NotFound` for an unknown name; `Conflict` for the built-in root.
    """
    actor.require(Action.ADMIN)
    if name in RESERVED_TRUST_NAMES:
        raise Conflict(f"{name!r} is built in and cannot be removed")
    with db.write() as conn:
        if not store.delete_trust(conn, actor.org_id, name):
            raise NotFound(f"trust material {name!r} not found")
        audit.append(conn, actor.org_id, actor.name, "trust.removed", f"trust/{name}", {})
