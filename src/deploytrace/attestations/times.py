"""When the build an attestation describes finished (SPEC §8, DORA lead time).

`built_at(statement)` reads the build finish a statement states, or None:

- SLSA provenance v1: `predicate.runDetails.metadata.finishedOn`;
- SLSA provenance v0.1/v0.2: `predicate.metadata.buildFinishedOn`;
- Chainloop (`chainloop.dev/attestation/*`): `predicate.metadata.finishedAt`.

The protobuf field spellings (`run_details`, `finished_on`, ...) count too: some
tools serialize statements from protobuf with them. A value that is not an
RFC 3339 time with a zone is ignored rather than guessed at (the caller falls
back to when the attestation was pushed).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V0 = ("https://slsa.dev/provenance/v0.1", "https://slsa.dev/provenance/v0.2")
CHAINLOOP = "chainloop.dev/attestation/"

# RFC 3339 date-time: fractions of any length (Go writes nanoseconds), `Z` or an offset.
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def built_at(statement: dict[str, Any]) -> dt.datetime | None:
    """The build finish `statement` states, as an aware UTC datetime; None without one."""
    predicate_type = statement.get("predicateType", statement.get("predicate_type"))
    predicate = statement.get("predicate")
    if not isinstance(predicate_type, str) or not isinstance(predicate, dict):
        return None
    if predicate_type == SLSA_V1:
        run = _field(predicate, "runDetails", "run_details")
        return parse_time(_field(_field(run, "metadata"), "finishedOn", "finished_on"))
    if predicate_type in SLSA_V0:
        meta = _field(predicate, "metadata")
        return parse_time(_field(meta, "buildFinishedOn", "build_finished_on"))
    if predicate_type.startswith(CHAINLOOP):
        return parse_time(_field(_field(predicate, "metadata"), "finishedAt", "finished_at"))
    return None


def parse_time(value: Any) -> dt.datetime | None:
    """An RFC 3339 time (any fraction length, `Z` or offset) as UTC; None if it is not one."""
    if not isinstance(value, str):
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        parsed = dt.datetime.fromisoformat(f"{day}T{clock}.{micros}{zone}")
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _field(obj: Any, *names: str) -> Any:
    if not isinstance(obj, dict):
        return None
    for name in names:
        if name in obj:
            return obj[name]
    return None
