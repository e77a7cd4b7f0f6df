"""Short forms people copy from tables: record id prefixes and digest prefixes.

Tables show the first characters of ids and digests; every command that takes an
id or a digest also takes a unique prefix of at least `MIN_HEX` hex characters.
A prefix that names several things is refused with the candidates listed, never
resolved to one of them by chance.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from deploytrace.errors import Ambiguous

MIN_HEX = 8
_UUID_PREFIX = re.compile(r"^[0-9a-f-]+$")
_DIGEST_PREFIX = re.compile(r"^(sha256|sha512):([0-9a-f]+)$")
FULL_HEX = {"sha256": 64, "sha512": 128}  # hex digits of a whole digest


def uuid_range(value: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The ids starting with `value` as an inclusive range; None if it is no id prefix.

    A whole UUID is not a prefix (look it up as it is).
    """
    text = value.strip().lower()
    if not _UUID_PREFIX.match(text):
        return None
    hexes = text.replace("-", "")
    if not MIN_HEX <= len(hexes) < 32:
        return None
    low = uuid.UUID(hexes.ljust(32, "0"))
    high = uuid.UUID(hexes.ljust(32, "f"))
    return low, high


def digest_prefix(value: str) -> str | None:
    """`ALGORITHM:HEX…` shorter than a whole digest (lower-cased); None otherwise."""
    match = _DIGEST_PREFIX.match(value.strip().lower())
    if match is None:
        return None
    algorithm, hexes = match.groups()
    if not MIN_HEX <= len(hexes) < FULL_HEX[algorithm]:
        return None
    return f"{algorithm}:{hexes}"


def one(value: str, what: str, candidates: Sequence[str]) -> str | None:
    """The single candidate a prefix names, None for none; refuse several by name."""
    unique = sorted(set(candidates))
    if len(unique) > 1:
        shown = ", ".join(unique[:5]) + (", …" if len(unique) > 5 else "")
        raise Ambiguous(f"{what} prefix {value!r} is ambiguous: it matches {shown}")
    return unique[0] if unique else None
