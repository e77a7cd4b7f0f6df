"""Subscription patterns: event types with `*` wildcards (`deployment.*`, `*`)."""

from __future__ import annotations

import re

from deploytrace.errors import InvalidInput

EVERYTHING = "*"
MAX_PATTERNS = 32
_PATTERN = re.compile(r"^[a-z0-9_.*-]{1,64}$")


def validate(patterns: list[str] | None) -> list[str]:
    """The patterns as given, deduplicated in order; none means every event."""
    if not patterns:
        return [EVERYTHING]
    if len(patterns) > MAX_PATTERNS:
        raise InvalidInput(f"a webhook takes at most {MAX_PATTERNS} event patterns")
    seen: list[str] = []
    for raw in patterns:
        pattern = raw.strip().lower()
        if not _PATTERN.match(pattern):
            raise InvalidInput(
                f"invalid event pattern {raw[:80]!r}: use event types such as "
                "deployment.created, with * for any text (deployment.*, *)"
            )
        if pattern not in seen:
            seen.append(pattern)
    return [EVERYTHING] if EVERYTHING in seen else seen


def to_like(pattern: str) -> str:
    """The SQL LIKE form (escape character `\\`) the outbox triggers match with."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def matches(pattern: str, event_type: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, event_type) is not None
