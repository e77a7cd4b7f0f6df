"""`resolve()`: an OCI reference in, the digest the registry serves (and what it is) out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from deploytrace.errors import InvalidInput
from deploytrace.oci.client import Fetched, RegistryClient
from deploytrace.oci.credentials import RegistryCredentials, find_auth
from deploytrace.oci.manifest import KIND_NAMES, Kind, check_digest, classify, digest_of, parse_kind
from deploytrace.oci.reference import Reference
from deploytrace.oci.transport import Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedArtifact:
    """What to record: the served digest, the repository, the tag and the real kind."""

    digest: str
    name: str
    version: str | None
    media_type: str
    kind: Kind


def resolve(
    reference: str,
    *,
    kind: str | None,
    credentials: RegistryCredentials | None = None,
    ca_file: str | None = None,
    timeout: float = 10.0,
) -> ResolvedArtifact:
    """Resolve `reference` to the manifest digest its registry serves.

    `kind` None accepts an image or a Helm chart alike (the result says which).
    Raises `InvalidInput` (malformed reference, wrong kind), `NotFound`,
    `Unauthenticated` (refused or failing credentials) or `Unavailable`
    (unreachable registry, TLS failure), each with one sentence for the user.
    """
    ref = Reference.parse(reference)
    wanted = parse_kind(kind) if kind is not None else None
    with Transport(ca_file=ca_file, timeout=timeout) as transport:
        client = RegistryClient(
            ref.registry, transport, lambda: find_auth(ref.registry, credentials)
        )
        fetched = client.fetch_manifest(ref)
    shown = str(ref)
    digest = _verified_digest(fetched, ref, shown)
    classified = classify(fetched.body, fetched.content_type, shown)
    if wanted is not None and classified.kind != wanted:
        raise InvalidInput(f"{shown} is {KIND_NAMES[classified.kind]}, not {KIND_NAMES[wanted]}")
    log.debug("resolved %s to %s", shown, digest)
    return ResolvedArtifact(
        digest=digest,
        name=ref.name,
        version=ref.tag,
        media_type=classified.media_type,
        kind=classified.kind,
    )


def _verified_digest(fetched: Fetched, ref: Reference, shown: str) -> str:
    """The digest to record, after checking every claim about the bytes we got."""
    if fetched.digest:
        check_digest(
            fetched.body, fetched.digest.strip(), "its Docker-Content-Digest header", shown
        )
    if ref.digest:
        check_digest(fetched.body, ref.digest, "the digest in the reference", shown)
        return ref.digest
    if fetched.digest:
        return fetched.digest.strip().lower()
    return digest_of(fetched.body)
