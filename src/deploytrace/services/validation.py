"""The value rules of SPEC §2, each raising `InvalidInput` with a message that names the rule."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from deploytrace.errors import InvalidInput

KINDS = ("CONTAINER_IMAGE", "HELM_CHART")
INPUT_STATUSES = ("deployed", "decommissioned")

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_PRINTABLE_ASCII = re.compile(r"^[^\x00-\x1f\x7f]*$")
# Control (Cc: C0, DEL, C1) and format characters (Cf: bidi overrides and
# isolates, zero-width spaces and joiners, soft hyphen): invisible or reordering,
# they make one name look like another. Cs: lone surrogates, not encodable text.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})

MAX_DESCRIPTION = 1024
MAX_ARTIFACT_NAME = 512
MAX_ARTIFACT_VERSION = 256
MAX_CI_FIELD = 2048


def dns_label(value: str, what: str) -> str:
    """SPEC §2: a DNS-1123 label (1-63 characters), else InvalidInput naming the rule."""
    if not (1 <= len(value) <= 63) or not _LABEL.match(value):
        raise InvalidInput(
            f"invalid {what} {value!r}: must be a DNS-1123 label "
            "(1-63 lowercase letters, digits or '-', starting and ending with a letter or digit)"
        )
    return value


def dns_subdomain(value: str, what: str) -> str:
    """SPEC §2: a DNS-1123 subdomain (1-253 characters), else InvalidInput naming the rule."""
    if not (1 <= len(value) <= 253) or not all(_LABEL.match(part) for part in value.split(".")):
        raise InvalidInput(
            f"invalid {what} {value!r}: must be a DNS-1123 subdomain (1-253 characters: "
            "lowercase letters, digits, '-' and '.', each dot-separated part starting and "
            "ending with a letter or digit)"
        )
    return value


def kind(value: str) -> str:
    """SPEC §2: CONTAINER_IMAGE or HELM_CHART, any case in, upper case out."""
    upper = value.upper()
    if upper not in KINDS:
        raise InvalidInput(f"invalid kind {value!r}: must be CONTAINER_IMAGE or HELM_CHART")
    return upper


def digest(value: str) -> str:
    """SPEC §2: sha256:<64 hex> or sha512:<128 hex>, lower-cased."""
    lower = value.strip().lower()
    if not _DIGEST.match(lower):
        raise InvalidInput(
            f"invalid digest {value!r}: must be sha256: followed by 64 hex characters "
            "or sha512: followed by 128 hex characters"
        )
    return lower


def input_status(value: str) -> str:
    """SPEC §2: deployed or decommissioned (superseded is the system's to set)."""
    lower = value.lower()
    if lower == "superseded":
        raise InvalidInput(
            "status 'superseded' is set by the system only: use deployed or decommissioned"
        )
    if lower not in INPUT_STATUSES:
        raise InvalidInput(f"invalid status {value!r}: must be deployed or decommissioned")
    return lower


def text(value: str | None, what: str, max_len: int) -> str | None:
    """Free text of at most `max_len` characters without control or invisible format characters."""
    if value is None:
        return None
    if len(value) > max_len:
        raise InvalidInput(f"{what} is too long ({len(value)} characters, at most {max_len})")
    if not printable(value):
        raise InvalidInput(
            f"{what} must not contain control or invisible formatting characters "
            "(Unicode categories Cc and Cf, e.g. bidi overrides or zero-width spaces)"
        )
    return value


def printable(value: str) -> bool:
    """No character of Unicode category Cc, Cf or Cs."""
    if value.isascii():
        return _PRINTABLE_ASCII.match(value) is not None
    return not any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in value)


def description(value: str | None) -> str:
    """A description: free text of at most 1024 characters ("" when not given)."""
    return text(value, "description", MAX_DESCRIPTION) or ""


_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_DURATION = dt.timedelta(days=3660)


def duration(value: str) -> dt.timedelta:
    """`90d`, `12h`, `1w2d`, `30m`, `45s`: a positive span of time."""
    match = _DURATION.match(value.strip().lower())
    if not value.strip() or not match or not any(match.groups()):
        raise InvalidInput(
            f"invalid duration {value!r}: use a number with w, d, h, m or s, e.g. 90d or 12h"
        )
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    # In seconds first: timedelta itself overflows past 999,999,999 days.
    total = (((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds
    if not 0 < total <= MAX_DURATION.total_seconds():
        raise InvalidInput(f"invalid duration {value!r}: between 1s and 10 years")
    return dt.timedelta(seconds=total)


def instant(value: dt.datetime, what: str) -> dt.datetime:
    """An aware point in time, in UTC (a UTC offset can push year 1 or 9999 out of range)."""
    if value.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone, e.g. 2026-11-25T10:00:00Z")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidInput(f"{what} {value.isoformat()} is out of range") from None


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
    if len(value) > max_len or not printable(value):
        return None
    return value
