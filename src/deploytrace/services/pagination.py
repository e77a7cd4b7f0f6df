"""Opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from deploytrace.errors import InvalidInput

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def limit(value: int | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def encode(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode(cursor: str | None, expected: type) -> Any:
    if cursor is None or cursor == "":
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeError):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page") from None
    if not isinstance(key, expected) or isinstance(key, bool):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page")
    return key
