"""DORA metrics (SPEC §8) computed from attested deployment records.

Over the records created in a window in one logical environment (optionally one
environment and one deployment name):

- deployments: those records (heartbeats are not deployments); frequency is their
  number ÷ the window's length in days;
- lead time, per deployment: from its digest's earliest attestation time (the build
  finish an attestation states, else when it was pushed) to the deployment; values
  below zero (clock skew, backdated imports) are left out;
- a deployment *failed* when its slot's next change comes within the failure window
  and is a rollback (a record of a digest the slot ran before) or an explicit
  decommission (`ended_reason: decommissioned`; a sync's `absent` is no signal);
  change failure rate = failed ÷ deployments;
- time to restore, per failed deployment: to the slot's next record (left out when
  the slot never got one);
- percentiles interpolate linearly between closest ranks (numpy's default), None
  without values.

Everything recorded up to now counts: a deployment near the end of a past window
may have failed, and been restored, after that window.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from deploytrace.errors import InvalidInput
from deploytrace.services import validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.deployments import environment_ids
from deploytrace.storage import environments as env_store
from deploytrace.storage import insight as store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import EndedReason

DEFAULT_WINDOW = dt.timedelta(days=30)
DEFAULT_FAILURE_WINDOW = dt.timedelta(hours=24)
_DAY = 86400.0


@dataclass(frozen=True)
class DoraQuery:
    logical_environment: str
    environment: str | None = None
    deployment_name: str | None = None
    since: str | None = None  # a duration back from `until` (`30d`) or an RFC 3339 time
    until: str | None = None  # an RFC 3339 time; default: now
    failure_window: str | None = None  # a duration; default 24h


@dataclass(frozen=True)
class Percentiles:
    p50: float | None
    p90: float | None


@dataclass(frozen=True)
class Dora:
    deployments: int
    deployment_frequency_per_day: float
    lead_time_seconds: Percentiles
    change_failure_rate: float | None  # None when there were no deployments
    time_to_restore_seconds: Percentiles
    window_from: dt.datetime
    window_to: dt.datetime
    failed: int  # for people: how many of `deployments` failed


def dora(db: Database, actor: Actor, query: DoraQuery) -> Dora:
    """DORA's four figures over the records created in [since, until) (SPEC §8).

    Raises InvalidInput (malformed or empty window, failure window, names) and
    NotFound (an environment or logical environment never known by that name).
    """
    actor.require(Action.READ)
    now = utcnow()
    start, end = window(query.since, query.until, now)
    failure_window = (
        validation.duration(query.failure_window)
        if query.failure_window is not None
        else DEFAULT_FAILURE_WINDOW
    )
    lenv = validation.dns_label(query.logical_environment, "logical environment name")
    env = validation.dns_label(query.environment, "environment name") if query.environment else None
    name = (
        validation.dns_subdomain(query.deployment_name, "deployment name")
        if query.deployment_name
        else None
    )
    with db.read() as conn:
        store.tune(conn)
        facts = _facts(conn, actor, lenv, env, name, start, end)
    return compute(facts, start, end, failure_window)


def _facts(
    conn: Connection,
    actor: Actor,
    lenv: str,
    env: str | None,
    name: str | None,
    start: dt.datetime,
    end: dt.datetime,
) -> list[store.DeploymentFacts]:
    lenv_ids = environment_ids(conn, actor, env_store.logical_environments, lenv)
    assert lenv_ids is not None
    return store.deployments(
        conn,
        store.Window(
            org_id=actor.org_id,
            logical_environment_ids=lenv_ids,
            start=start,
            end=end,
            environment_ids=environment_ids(conn, actor, env_store.environments, env),
            deployment_name=name,
        ),
    )


def compute(
    facts: Sequence[store.DeploymentFacts],
    start: dt.datetime,
    end: dt.datetime,
    failure_window: dt.timedelta,
) -> Dora:
    """The figures from the window's deployments (each with its digest's first attestation
    time and its slot's next change)."""
    lead_times = []
    restores = []
    failed = 0
    for fact in facts:
        attested = fact.first_attested_at
        if attested is not None:
            lead = (fact.created_at - attested).total_seconds()
            if lead >= 0:
                lead_times.append(lead)
        if is_failure(fact, failure_window):
            failed += 1
            if fact.next_created_at is not None:
                restores.append((fact.next_created_at - fact.created_at).total_seconds())
    count = len(facts)
    return Dora(
        deployments=count,
        deployment_frequency_per_day=count / ((end - start).total_seconds() / _DAY),
        lead_time_seconds=Percentiles(percentile(lead_times, 50), percentile(lead_times, 90)),
        change_failure_rate=failed / count if count else None,
        time_to_restore_seconds=Percentiles(percentile(restores, 50), percentile(restores, 90)),
        window_from=start,
        window_to=end,
        failed=failed,
    )


def is_failure(fact: store.DeploymentFacts, failure_window: dt.timedelta) -> bool:
    """The slot's next change came within the window and was a rollback or a decommission."""
    if fact.ended_at is None or fact.ended_at - fact.created_at > failure_window:
        return False
    if fact.ended_reason == EndedReason.DECOMMISSIONED:
        return True
    return fact.ended_reason == EndedReason.SUPERSEDED and fact.next_is_rollback


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default method, and
    `statistics.quantiles(method="inclusive")`); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


_TIME_MARK = re.compile(r"^\d{4}-")


def window(
    since: str | None, until: str | None, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """[start, end): `until` (default now) and `since`, a time or a duration before `until`
    (default 30 days)."""
    end = parse_time(until, "until") if until is not None else now
    if since is None:
        start = end - DEFAULT_WINDOW
    elif _TIME_MARK.match(since.strip()):
        start = parse_time(since, "since")
    else:
        start = end - validation.duration(since)
    if start >= end:
        raise InvalidInput(f"empty window: since ({_z(start)}) must be before until ({_z(end)})")
    return start, end


def parse_time(value: str, what: str) -> dt.datetime:
    """An RFC 3339 time with a zone, as UTC."""
    text = value.strip()
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"{what} {value!r} is not a time: use RFC 3339, e.g. 2026-11-25T14:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{what} needs a time zone, e.g. 2026-11-25T14:00:00Z")
    return parsed.astimezone(dt.UTC)


def _z(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
