"""The value rules of SPEC §2, each raising `InvalidInput` with a message that names the rule."""

from __future__ import annotations

import datetime as dt
import re

from deploytrace.errors import InvalidInput

KINDS = ("CONTAINER_IMAGE", "HELM_CHART")
INPUT_STATUSES = ("deployed", "decommissioned")

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")

MAX_DESCRIPTION = 1024
MAX_ARTIFACT_NAME = 512
MAX_ARTIFACT_VERSION = 256
MAX_CI_FIELD = 2048


def dns_label(value: str, what: str) -> str:
    if not (1 <= len(value) <= 63) or not _LABEL.match(value):
        raise InvalidInput(
            f"invalid {what} {value!r}: must be a DNS-1123 label "
            "(1-63 lowercase letters, digits or '-', starting and ending with a letter or digit)"
        )
    return value


def dns_subdomain(value: str, what: str) -> str:
    if not (1 <= len(value) <= 253) or not all(_LABEL.match(part) for part in value.split(".")):
        raise InvalidInput(
            f"invalid {what} {value!r}: must be a DNS-1123 subdomain (1-253 characters: "
            "lowercase letters, digits, '-' and '.', each dot-separated part starting and "
            "ending with a letter or digit)"
        )
    return value


def kind(value: str) -> str:
    upper = value.upper()
    if upper not in KINDS:
        raise InvalidInput(f"invalid kind {value!r}: must be CONTAINER_IMAGE or HELM_CHART")
    return upper


def digest(value: str) -> str:
    lower = value.strip().lower()
    if not _DIGEST.match(lower):
        raise InvalidInput(
            f"invalid digest {value!r}: must be sha256: followed by 64 hex characters "
            "or sha512: followed by 128 hex characters"
        )
    return lower


def input_status(value: str) -> str:
    lower = value.lower()
    if lower == "superseded":
        raise InvalidInput(
            "status 'superseded' is set by the system only: use deployed or decommissioned"
        )
    if lower not in INPUT_STATUSES:
        raise InvalidInput(f"invalid status {value!r}: must be deployed or decommissioned")
    return lower


def text(value: str | None, what: str, max_len: int) -> str | None:
    if value is None:
        return None
    if len(value) > max_len:
        raise InvalidInput(f"{what} is too long ({len(value)} characters, at most {max_len})")
    if not _PRINTABLE.match(value):
        raise InvalidInput(f"{what} must not contain control characters")
    return value


def description(value: str | None) -> str:
    return text(value, "description", MAX_DESCRIPTION) or ""


_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def duration(value: str) -> dt.timedelta:
    """`90d`, `12h`, `1w2d`, `30m`, `45s`: a positive span of time."""
    match = _DURATION.match(value.strip().lower())
    if not value.strip() or not match or not any(match.groups()):
        raise InvalidInput(
            f"invalid duration {value!r}: use a number with w, d, h, m or s, e.g. 90d or 12h"
        )
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    span = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    if span <= dt.timedelta(0) or span > dt.timedelta(days=3660):
        raise InvalidInput(f"invalid duration {value!r}: between 1s and 10 years")
    return span


def format_duration(seconds: int) -> str:
    """The shortest `1d2h`-style spelling of a whole number of seconds."""
    parts = []
    rest = seconds
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts) or "0s"


def clip(value: str, max_len: int) -> str | None:
    """`value` if it is printable and fits; None otherwise (for names taken from evidence,
    where a malformed one must not refuse the request that uses it)."""
    if len(value) > max_len or not _PRINTABLE.match(value):
        return None
    return value
