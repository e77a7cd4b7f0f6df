"""Opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from deploytrace.errors import InvalidInput

T = TypeVar("T")

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def limit(value: int | None) -> int:
    """A page size: `DEFAULT_LIMIT` when not given, else 1 to `MAX_LIMIT` (or InvalidInput)."""
    if value is None:
        return DEFAULT_LIMIT
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def encode(key: Any) -> str:
    """An opaque cursor for a keyset key (JSON, URL-safe base64)."""
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode(cursor: str | None, expected: type) -> Any:
    """The keyset key of a cursor, checked to be of the `expected` type (InvalidInput otherwise)."""
    if cursor is None or cursor == "":
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page") from None
    if not isinstance(key, expected) or isinstance(key, bool) or not _storable(key):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page")
    return key


# Keys are BIGINT sequence numbers and positions: a larger integer is no key of
# ours, and the database would refuse it as a parameter.
_BIGINT = range(-(2**63), 2**63)


def _storable(key: Any) -> bool:
    if isinstance(key, int) and not isinstance(key, bool):
        return key in _BIGINT
    if isinstance(key, list):
        return all(_storable(part) for part in key)
    return not isinstance(key, float)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, newest (or first) first, and the cursor of the next."""

    items: list[T]
    next_cursor: str | None


def page(rows: list[T], size: int, key: Callable[[T], Any]) -> Page[T]:
    """Cut rows fetched with `limit=size + 1`: the extra row only says there is more."""
    if len(rows) <= size:
        return Page(rows, None)
    items = rows[:size]
    return Page(items, encode(key(items[-1])))


def decode_seq(cursor: str | None) -> int | None:
    """A cursor holding one sequence number (a positive 64-bit integer)."""
    key = decode(cursor, int)
    if key is not None and not 0 < key < 2**63:
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page")
    return key  # type: ignore[no-any-return]
