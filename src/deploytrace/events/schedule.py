"""When a failed delivery is tried again (SPEC §11).

About 5 s, 30 s, 2 min, 5 min and 30 min after the failures, then hourly, each
with ±10 % jitter so that a receiver coming back is not hit by every retry at
once; once 24 h have passed since the first attempt, the delivery is given up.
`scale` shrinks the whole schedule (tests run it in seconds); production uses 1.
"""

from __future__ import annotations

import datetime as dt
import random

DELAYS = (5.0, 30.0, 120.0, 300.0, 1800.0)
HOURLY = 3600.0
WINDOW = 24 * 3600.0
JITTER = 0.1


def delay(attempt: int, *, scale: float = 1.0, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    base = DELAYS[attempt - 1] if 1 <= attempt <= len(DELAYS) else HOURLY
    spread = (rng or random).uniform(-JITTER, JITTER)
    return base * scale * (1 + spread)


def next_attempt(
    attempt: int,
    first_attempt_at: dt.datetime,
    now: dt.datetime,
    *,
    scale: float = 1.0,
    rng: random.Random | None = None,
) -> dt.datetime | None:
    """When to try again after failed attempt `attempt`, or None: give up."""
    wait = delay(attempt, scale=scale, rng=rng)
    at = now + dt.timedelta(seconds=wait)
    if at > first_attempt_at + dt.timedelta(seconds=WINDOW * scale):
        return None
    return at
