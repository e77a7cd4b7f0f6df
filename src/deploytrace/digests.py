"""Artifact digests as the evidence index spells them: one normalizer for storing and finding.

An attestation names artifacts by `{algorithm: value}` digests; the index keys
each as `algorithm:value`. `normalize` is what both sides use: ingestion
(`deploytrace.attestations.digests`) when it indexes a subject or material, and
every lookup (`parse`) when a user names a digest. Two spellings of one
digest (`gitCommit:ABC…` and `gitcommit:abc…`) must meet at the same key.

A module of its own, outside `deploytrace.attestations`: importing that
package pulls in sigstore, which a lookup never needs.
"""

from __future__ import annotations

import re

from deploytrace.errors import InvalidInput

# Hex lengths of the hash algorithms we can validate; others are kept as given
# (e.g. `gce_image_id`, which is an identifier, not a hash). The names are the
# in-toto digest-set names (ResourceDescriptor), lower-cased.
HEX_LENGTHS: dict[str, tuple[int, ...]] = {
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
MAX_LENGTH = 255  # the index column

_HEX = re.compile(r"[0-9a-f]+")
# What a user may type as a digest: an algorithm name, then a value without
# spaces or control characters.
_TYPED = re.compile(r"[a-z0-9][a-z0-9_+.-]*:[^\s\x00-\x1f\x7f]{1,200}")


def normalize(algorithm: str, value: str) -> str | None:
    """`algorithm:value` as the index keys it, or None when it cannot be one.

    The algorithm is lower-cased; a known hash's value must be hex of its
    length and is lower-cased; any other value is kept as given (stripped).
    """
    alg = algorithm.strip().lower()
    value = value.strip()
    if not alg or not value:
        return None
    lengths = HEX_LENGTHS.get(alg)
    if lengths is None:
        return f"{alg}:{value}"
    hex_value = value.lower()
    if len(hex_value) not in lengths or not _HEX.fullmatch(hex_value):
        return None
    return f"{alg}:{hex_value}"


def parse(text: str) -> str:
    """A digest a user typed (`ALGORITHM:VALUE`), normalized as the index keys it.

    Raises `InvalidInput` when it cannot be a digest.
    """
    algorithm, sep, value = text.strip().partition(":")
    found = normalize(algorithm, value) if sep else None
    if found is None or len(found) > MAX_LENGTH or not _TYPED.fullmatch(found):
        expected = HEX_LENGTHS.get(algorithm.strip().lower())
        if sep and expected:
            sizes = " or ".join(str(n) for n in expected)
            raise InvalidInput(
                f"invalid digest {text!r}: {algorithm.strip().lower()} needs {sizes} hex characters"
            )
        raise InvalidInput(f"invalid digest {text!r}: expected ALGORITHM:VALUE, e.g. sha256:<hex>")
    return found


def is_hash(text: str) -> bool:
    """Whether `text` is spelled as a digest of a known hash algorithm (any case)."""
    algorithm, sep, value = text.strip().partition(":")
    return (
        bool(sep) and algorithm.lower() in HEX_LENGTHS and normalize(algorithm, value) is not None
    )
