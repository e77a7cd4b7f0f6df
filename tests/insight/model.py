"""A simple model of deployment histories, and brute-force answers to SPEC §8's questions.

Histories are lists of reports with observed times in order; `World.apply` sends each
through the real API and keeps what the model says happened, so every test can
compare the product's answer with one computed here from first principles: replaying
the reports up to an instant, walking a slot's whole history, scanning every record.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import statistics
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.digests import digest

ENVIRONMENTS = ("east", "west")
LOGICAL = ("staging", "production")
NAMES = (("api", "CONTAINER_IMAGE"), ("chart", "HELM_CHART"))
# Ordered so that a history over the first few slots is one name's promotion path.
SLOTS = [(e, le, n, k) for n, k in NAMES for e in ENVIRONMENTS for le in LOGICAL]
DIGESTS = [digest(f"insight-{i}") for i in range(4)]
_orgs = itertools.count()

Slot = tuple[str, str, str, str]


def z(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@dataclass
class Rec:
    id: str
    slot: Slot
    digest: str
    created: dt.datetime
    seq: int
    ended: dt.datetime | None = None
    reason: str | None = None

    @property
    def key(self) -> tuple[dt.datetime, int]:
        return (self.created, self.seq)


@dataclass(frozen=True)
class Op:
    slot: int
    # deploy; promote: in production, a digest staging ran (in staging: a rollback to a
    # digest the slot ran); beat: a heartbeat; decommission.
    action: str
    digest: int  # deploy: which digest; promote: how far back (0: the most recent)
    gap_seconds: int


def _ops(slots: int, actions: list[str], min_size: int = 1) -> st.SearchStrategy[list[Op]]:
    return st.lists(
        st.builds(
            Op,
            slot=st.integers(0, slots - 1),
            action=st.sampled_from(actions),
            digest=st.integers(0, len(DIGESTS) - 1),
            # 0: two reports at one instant; otherwise minutes to hours apart.
            gap_seconds=st.sampled_from([0, 1, 60, 600, 3600, 5 * 3600, 20 * 3600]),
        ),
        min_size=min_size,
        max_size=30,
    )


_ANY = ["deploy", "deploy", "promote", "promote", "beat", "decommission"]
# Histories over the first 2..8 slots: few slots make deep histories (rollbacks, digests
# run again), many make wide ones.
ops = st.integers(2, len(SLOTS)).flatmap(lambda n: _ops(n, _ANY))
# One name's path through both stages in both environments, mostly promotions: production
# lags staging by a few digests, the shape a diff is for.
_PIPELINE = ["deploy", "deploy", "promote", "promote", "promote", "beat", "decommission"]
pipelines = _ops(4, _PIPELINE, min_size=6)


# Per digest: the build finish its attestations state (hours after the history's start),
# or None for an attestation without one (its time is when it was pushed: now).
built_hours = st.lists(
    st.lists(st.one_of(st.none(), st.integers(-48, 300)), min_size=1, max_size=2),
    min_size=len(DIGESTS),
    max_size=len(DIGESTS),
)


def slsa_statement(subject: str, finished: dt.datetime | None, nonce: int) -> bytes:
    metadata: dict[str, Any] = {"invocationId": f"run-{nonce}"}
    if finished is not None:
        metadata["finishedOn"] = finished.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ghcr.io/acme/app", "digest": {"sha256": subject[7:]}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {"runDetails": {"metadata": metadata}},
        }
    ).encode()


class App:
    """The API over one database; each `world()` is a fresh organization in it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.app = create_app(Runtime(db=db, settings=Settings(), local_actor=None))

    def world(self) -> World:
        _, token = tenancy.bootstrap(self.db, f"insight-{next(_orgs)}")
        api = ApiHarness(self.app, token=token, db=self.db, auto_attest=False)
        for env in ENVIRONMENTS:
            api.env(env)
        return World(api)


@dataclass
class World:
    api: ApiHarness
    start: dt.datetime = field(
        default_factory=lambda: (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).replace(
            microsecond=0
        )
    )
    records: list[Rec] = field(default_factory=list)
    active: dict[Slot, Rec] = field(default_factory=dict)
    history: list[tuple[dt.datetime, Slot, str | None]] = field(default_factory=list)
    first_attested: dict[str, dt.datetime] = field(default_factory=dict)
    clock: dt.datetime | None = None

    # Building the world ----------------------------------------------------------------

    def attest(self, hours: list[list[int | None]]) -> None:
        """Push each digest's attestations; the model keeps its earliest time."""
        nonce = itertools.count()
        for d, times in zip(DIGESTS, hours, strict=True):
            for h in times:
                finished = self.start + dt.timedelta(hours=h) if h is not None else None
                r = self.api.push(slsa_statement(d, finished, next(nonce)))
                assert r.status in (200, 201), r.body
                pushed = ts(r.json()["items"][0]["created_at"])
                when = finished if finished is not None else pushed
                if d not in self.first_attested or when < self.first_attested[d]:
                    self.first_attested[d] = when

    def apply(self, op: Op) -> None:
        slot = SLOTS[op.slot]
        self.clock = (self.clock or self.start) + dt.timedelta(seconds=op.gap_seconds)
        at = self.clock
        current = self.active.get(slot)
        if op.action == "beat":
            if current is None:
                return
            r = self._report(slot, current.digest, "deployed", at)
            assert r.status == 200 and r.json()["action"] == "heartbeat", r.body
            return
        if op.action == "decommission":
            if current is None:
                return
            r = self._report(slot, current.digest, "decommissioned", at)
            assert r.status == 200 and r.json()["action"] == "decommissioned", r.body
            current.ended, current.reason = at, "decommissioned"
            del self.active[slot]
            self.history.append((at, slot, None))
            return
        d = DIGESTS[op.digest] if op.action == "deploy" else self._promoted(slot, op.digest)
        r = self._report(slot, d, "deployed", at)
        if current is not None and current.digest == d:
            assert r.status == 200 and r.json()["action"] == "heartbeat", r.body
            return
        assert r.status == 201, r.body
        body = r.json()
        assert ts(body["created_at"]) == at, body
        if current is not None:
            current.ended, current.reason = at, "superseded"
        rec = Rec(body["id"], slot, d, at, len(self.records))
        self.records.append(rec)
        self.active[slot] = rec
        self.history.append((at, slot, rec.id))

    def _promoted(self, slot: Slot, back: int) -> str:
        env, _, name, kind = slot
        source = (env, "staging", name, kind)
        ran = list(dict.fromkeys(r.digest for r in reversed(self.slot_history(source))))
        return ran[back % len(ran)] if ran else DIGESTS[back]

    def _report(self, slot: Slot, d: str, status: str, at: dt.datetime) -> Any:
        env, lenv, name, kind = slot
        return self.api.post(
            "/v1/deployments",
            {
                "environment": env,
                "logical_environment": lenv,
                "deployment_name": name,
                "kind": kind,
                "digest": d,
                "status": status,
                "observed_at": z(at),
            },
        )

    # The model's answers --------------------------------------------------------------------

    def replay(self, at: dt.datetime) -> dict[Slot, str]:
        """What each slot ran at `at`: the reports up to it, applied in order."""
        state: dict[Slot, str] = {}
        for when, slot, rec_id in self.history:
            if when > at:
                break
            if rec_id is None:
                state.pop(slot, None)
            else:
                state[slot] = rec_id
        return state

    def slot_history(self, slot: Slot) -> list[Rec]:
        return sorted((r for r in self.records if r.slot == slot), key=lambda r: r.key)

    def since(self, slot: Slot) -> dt.datetime | None:
        found = self.slot_history(slot)
        if not found:
            return None
        latest = found[-1]
        return latest.ended or latest.created

    def behind(self, source: Slot, target_digest: str) -> int | None:
        found = self.slot_history(source)
        last = [i for i, r in enumerate(found) if r.digest == target_digest]
        if not last:
            return None
        return len({r.digest for r in found[last[-1] + 1 :]})


def percentile(values: list[float], p: int) -> float | None:
    """statistics.quantiles(method="inclusive"): numpy's linear interpolation."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def dora_model(
    world: World,
    lenv: str,
    env: str | None,
    name: str | None,
    start: dt.datetime,
    end: dt.datetime,
    failure_window: dt.timedelta,
) -> dict[str, Any]:
    """DORA by brute force over every record, exactly as SPEC §8 words it."""
    chosen = [
        r
        for r in world.records
        if r.slot[1] == lenv
        and (env is None or r.slot[0] == env)
        and (name is None or r.slot[2] == name)
        and start <= r.created < end
    ]
    leads, restores, failed = [], [], 0
    for rec in chosen:
        first = world.first_attested.get(rec.digest)
        if first is not None and rec.created - first >= dt.timedelta(0):
            leads.append((rec.created - first).total_seconds())
        history = world.slot_history(rec.slot)
        position = history.index(rec)
        following = history[position + 1] if position + 1 < len(history) else None
        fails = False
        if rec.ended is not None and rec.ended - rec.created <= failure_window:
            if rec.reason == "decommissioned":
                fails = True
            elif rec.reason == "superseded":
                assert following is not None
                fails = any(r.digest == following.digest for r in history[: position + 1])
        if fails:
            failed += 1
            if following is not None:
                restores.append((following.created - rec.created).total_seconds())
    days = (end - start).total_seconds() / 86400
    return {
        "deployments": len(chosen),
        "deployment_frequency_per_day": len(chosen) / days,
        "lead_time_seconds": {"p50": percentile(leads, 50), "p90": percentile(leads, 90)},
        "change_failure_rate": failed / len(chosen) if chosen else None,
        "time_to_restore_seconds": {
            "p50": percentile(restores, 50),
            "p90": percentile(restores, 90),
        },
        "window": {"from": z(start), "to": z(end)},
    }
