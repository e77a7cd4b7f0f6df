"""The few value rules of SPEC §2 an inventory needs, as plain predicates.

They mirror `deploytrace.services.validation` (which the server applies again);
this library stays importable without the service layer, and answers "why
not" as text so callers can name the pod or entry at fault.
"""

from __future__ import annotations

import re

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

MAX_SUBDOMAIN = 253
MAX_ARTIFACT_NAME = 512
MAX_ARTIFACT_VERSION = 256


def subdomain_problem(name: str) -> str | None:
    """Why `name` is not a DNS-1123 subdomain, or None when it is one."""
    if not name:
        return "it is empty"
    if len(name) > MAX_SUBDOMAIN:
        return f"it is {len(name)} characters long, more than {MAX_SUBDOMAIN}"
    for part in name.split("."):
        if not _LABEL.fullmatch(part):
            shown = part if len(part) <= 40 else part[:40] + "…"
            return (
                f"the part {shown!r} is not lowercase letters, digits and '-' "
                "starting and ending with a letter or digit"
            )
    return None


def normal_digest(value: str) -> str | None:
    """`value` lower-cased when it is a digest deploytrace stores, else None."""
    lower = value.strip().lower()
    return lower if _DIGEST.fullmatch(lower) else None


def text_problem(value: str, max_len: int) -> str | None:
    if len(value) > max_len:
        return f"it is {len(value)} characters long, more than {max_len}"
    if _CONTROL.search(value):
        return "it contains control characters"
    return None
