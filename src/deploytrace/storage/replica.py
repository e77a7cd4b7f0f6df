"""A PostgreSQL streaming replica for reads: which reads may use it, and how far behind it is.

Routing is per request: the API's read-routing middleware puts a `ReadRoute` in
`current_route` for GET and HEAD requests, and `Database.read()` uses the replica
only under such a route, and only while the replica is up and within the lag
limit. Everything else (writes, reads inside a write, authentication, work
outside a request) uses the primary.

Lag is measured by WAL position, not by `pg_last_xact_replay_timestamp()`: that
grows while the primary is idle although the replica misses nothing. Once a
second a background thread samples the primary's `pg_current_wal_lsn()` with a
timestamp and reads the replica's `pg_last_wal_replay_lsn()` (replay, not
receive: only replayed WAL is visible to queries). The lag is how long ago the
primary stood where the replica stands now, interpolated between samples. The
requests read the cached verdict: no query per request.
"""

from __future__ import annotations

import bisect
import collections
import contextlib
import contextvars
import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

ReplicaStatus = Literal["ok", "lagging", "down"]

log = logging.getLogger("deploytrace.replica")


@dataclass
class ReadRoute:
    """One request's routing: may it read from the replica, and what happened when it did."""

    primary: bool = False  # read from the primary only (asked for, or after a write)
    used_replica: bool = False  # some read of this request was answered by the replica
    replica_failed: bool = False  # a replica read failed: the request is worth a rerun


current_route: contextvars.ContextVar[ReadRoute | None] = contextvars.ContextVar(
    "deploytrace_read_route", default=None
)


@dataclass(frozen=True)
class ReplicaState:
    status: ReplicaStatus
    lag_seconds: float | None  # None when it cannot be measured (down, nothing replayed yet)
    checked_at: float  # time.monotonic() of the check
    error: str | None = None


def lsn(text: str) -> int:
    """A WAL position `X/Y` as one integer."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class LsnClock:
    """The primary's WAL positions over time, to turn a replica's position into seconds."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: collections.deque[float] = collections.deque()
        self._positions: collections.deque[int] = collections.deque()

    def add(self, at: float, position: int) -> None:
        if self._positions and position < self._positions[-1]:
            # The primary went back (a new primary after failover): old samples mean nothing.
            self._times.clear()
            self._positions.clear()
        self._times.append(at)
        self._positions.append(position)
        # One sample older than the window stays, to date positions just inside it.
        while len(self._times) > 1 and at - self._times[1] > self.window:
            self._times.popleft()
            self._positions.popleft()

    def lag(self, replayed: int, now: float) -> tuple[float, bool] | None:
        """Seconds since the primary was at `replayed`, and whether that is exact.

        Not exact (a lower bound) when the replica is behind every sample: just
        after start-up, or further behind than the window. None with no sample.
        """
        if not self._positions:
            return None
        positions = list(self._positions)
        if replayed >= positions[-1]:
            return 0.0, True
        # The first sample past the replica's position: the primary passed that
        # position between the sample before it and this one.
        i = bisect.bisect_right(positions, replayed)
        if i == 0:
            return max(0.0, now - self._times[0]), False
        t0, p0 = self._times[i - 1], positions[i - 1]
        t1, p1 = self._times[i], positions[i]
        passed_at = t0 + (t1 - t0) * (replayed - p0) / (p1 - p0)
        return max(0.0, now - passed_at), True


class ReplicaMonitor:
    """The replica's health, refreshed about once a second by one background thread."""

    def __init__(self, primary: Engine, replica: Engine, max_lag: float) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag = max_lag
        # Often enough that a lag limit under two seconds still means something.
        self.interval = min(1.0, max(0.1, max_lag / 2))
        # A verdict older than this is no verdict (a refresh hung on a dead network).
        self.stale_after = max(3 * self.interval, max_lag)
        self.clock = LsnClock(window=max(60.0, 4 * max_lag))
        self._state: ReplicaState | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()

    def usable(self) -> bool:
        """True when a read may go to the replica now: it answers and is within the lag limit."""
        if self._thread is None:
            self._start()
        state = self._state
        return (
            state is not None
            and state.status == "ok"
            and time.monotonic() - state.checked_at <= self.stale_after
        )

    def state(self) -> ReplicaState:
        """The latest verdict; checked now when there is none yet, or it is stale."""
        if self._thread is None:
            self._start()
        state = self._state
        if state is None or time.monotonic() - state.checked_at > self.stale_after:
            # A check that does not finish (a dead network) is a replica to avoid.
            state = self.refresh(wait=self.stale_after) or ReplicaState(
                "down", None, time.monotonic(), "the replica check does not finish"
            )
        return state

    def mark_down(self, error: str) -> None:
        """A read found the replica gone: stop sending reads there until a check says otherwise."""
        self._publish(ReplicaState("down", None, time.monotonic(), error))

    def refresh(self, wait: float = -1) -> ReplicaState | None:
        """Measure now; None when another check holds the lock longer than `wait` seconds."""
        if not self._refresh_lock.acquire(timeout=wait):
            return None
        try:
            state = self._measure()
            self._publish(state)
            return state
        finally:
            self._refresh_lock.release()

    def _publish(self, state: ReplicaState) -> None:
        before = self._state
        self._state = state
        if before is None and state.status != "down":
            # Just started: a replica that is a moment behind is no news.
            log.info("read replica %s (lag %ss)", state.status, state.lag_seconds)
        elif before is None or before.status != state.status:
            if state.status == "ok":
                log.info("read replica ok (lag %ss): reads go to the replica", state.lag_seconds)
            elif state.status == "lagging":
                log.warning(
                    "read replica lagging (%ss, limit %ss): reads go to the primary",
                    state.lag_seconds,
                    self.max_lag,
                )
            else:
                log.warning("read replica down (%s): reads go to the primary", state.error)

    def _measure(self) -> ReplicaState:
        # Without the primary's position (its own health is /readyz's business),
        # the samples taken so far still date the replica's position.
        with contextlib.suppress(SQLAlchemyError):
            with self.primary.connect() as conn:
                position = conn.exec_driver_sql("SELECT pg_current_wal_lsn()::text").scalar_one()
            self.clock.add(time.monotonic(), lsn(position))
        try:
            with self.replica.connect() as conn:
                in_recovery, replayed = conn.exec_driver_sql(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text"
                ).one()
        except SQLAlchemyError as error:
            return ReplicaState("down", None, time.monotonic(), _first_line(error))
        now = time.monotonic()
        if not in_recovery:
            # Not a standby: the primary itself, or a standby promoted a moment ago.
            return ReplicaState("ok", 0.0, now)
        reading = None if replayed is None else self.clock.lag(lsn(replayed), now)
        if reading is None:
            return ReplicaState("lagging", None, now)
        lag, exact = reading
        # Behind everything sampled: how far is unknown, so not to be read from.
        status: ReplicaStatus = "ok" if exact and lag <= self.max_lag else "lagging"
        return ReplicaState(status, round(lag, 3), now)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="deploytrace-replica-monitor", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except Exception:
                # Keep checking; meanwhile the verdict goes stale and reads use the primary.
                log.exception("read replica check failed")
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
