"""Digest strings for the index, and the in-toto ResourceDescriptor helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .model import ArtifactRef, Role

# Hex lengths of the hash algorithms we can validate; others are kept as given
# (e.g. `gce_image_id`, which is an identifier, not a hash).
_HEX_LENGTHS: dict[str, tuple[int, ...]] = {
    "md5": (32,),
    "sha1": (40,),
    "sha224": (56,),
    "sha256": (64,),
    "sha384": (96,),
    "sha512": (128,),
    "sha512_224": (56,),
    "sha512_256": (64,),
    "sha3_224": (56,),
    "sha3_256": (64,),
    "sha3_384": (96,),
    "sha3_512": (128,),
    "gitblob": (40, 64),
    "gitcommit": (40, 64),
    "gittag": (40, 64),
    "gittree": (40, 64),
}
_HEX = re.compile(r"[0-9a-f]+")


def normalize_digest(algorithm: str, value: str) -> str | None:
    """`<alg>:<value>` for the index, or None when a known hash is malformed."""
    alg = algorithm.strip().lower()
    if not alg or not value.strip():
        return None
    lengths = _HEX_LENGTHS.get(alg)
    if lengths is None:
        return f"{alg}:{value}"
    hex_value = value.strip().lower()
    if len(hex_value) not in lengths or not _HEX.fullmatch(hex_value):
        return None
    return f"{alg}:{hex_value}"


def descriptor_refs(
    descriptor: dict[str, Any], role: Role, name: str | None, material_type: str | None
) -> Iterator[ArtifactRef]:
    """One ref per valid digest entry of an in-toto ResourceDescriptor."""
    digests = descriptor.get("digest")
    if not isinstance(digests, dict):
        return
    for alg, value in digests.items():
        if not isinstance(value, str):
            continue
        digest = normalize_digest(alg, value)
        if digest is not None:
            yield ArtifactRef(digest=digest, role=role, name=name, material_type=material_type)


def dedupe(refs: Iterable[ArtifactRef]) -> tuple[ArtifactRef, ...]:
    seen: set[tuple[str, str, str | None]] = set()
    out: list[ArtifactRef] = []
    for ref in refs:
        key = (ref.digest, ref.role, ref.material_type)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return tuple(out)


def annotation(descriptor: dict[str, Any], key: str) -> str | None:
    annotations = descriptor.get("annotations")
    if not isinstance(annotations, dict):
        return None
    value = annotations.get(key)
    return value if isinstance(value, str) and value else None
