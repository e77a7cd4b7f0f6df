"""Model-based test of SPEC §3: random histories of records against an in-memory model.

What is proven: for random sequences of creates, heartbeats, supersedes, decommissions
(right digest, wrong digest, empty slot, repeated), rollbacks to an earlier digest, with
input spelled in any case, over 16 slots, on SQLite and on PostgreSQL, the API answers
exactly what the table of SPEC §3 says (status code, action, the record's id, status,
pointers and timestamps), and after every step the stored history (`?history=true`; after
a change also the active list and the touched slot's filtered history) is the model's: the
same records in the same order, newest first, with the same fields; records the step did
not touch are unchanged to the byte (a refused request changed nothing). At the end of
each example each filter on its own and combined, keyset pagination, the newest record's
own page and the audit log (intact, one entry per transition) are checked too.

Bounded: 30 examples of at most 30 steps per backend (~15-30 s); each example runs in a fresh
organization of one database (orgs are isolated), so no state leaks between examples.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.resilience.load import (
    DIGESTS,
    ENVIRONMENTS,
    SLOTS,
    Slot,
    slot_of,
)
from tests.support.api import ApiHarness, Reply
from tests.support.statements import DEFAULT_SUBJECT_NAME as SUBJECT_NAME
from tests.support.statements import statement

# Fields of POST /v1/deployments's answer that a stored record does not have.
ANSWER_ONLY = frozenset({"action", "previous"})

pytestmark = pytest.mark.slow

SETTINGS = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
VERSIONS = (None, "v1", "v2")
_orgs = itertools.count()


def ts(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def shouted(digest: str) -> str:
    algorithm, hexdigits = digest.split(":")
    return f"{algorithm}:{hexdigits.upper()}"


@dataclass
class Record:
    """The model's view of one stored record; `seen` is its last answer or list item."""

    id: str
    slot: Slot
    digest: str
    name: str | None
    version: str | None
    status: str = "deployed"
    superseded_by: str | None = None
    seen: dict[str, Any] = field(default_factory=dict)


class DeploymentMachine(RuleBasedStateMachine):
    """Drives one fresh org through the API; `db` and `app` are set per backend."""

    db: ClassVar[Database]
    app: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[Record] = []  # creation order
        self.touched: set[str] = set()  # ids the last step may have changed
        self.slot: Slot | None = None  # the slot of the last step

    @initialize(
        first=st.lists(
            st.tuples(st.sampled_from(SLOTS), st.sampled_from(DIGESTS)),
            min_size=1,
            max_size=4,
            unique_by=lambda pair: pair[0],
        )
    )
    def fresh_org(self, first: list[tuple[Slot, str]]) -> None:
        """A new org (examples never share state), and a few first records, so that every
        rule has something to work on whichever rules the example enabled."""
        _, token = tenancy.bootstrap(self.db, f"model-{next(_orgs)}")
        self.api = ApiHarness(self.app, token=token, db=self.db, auto_attest=False)
        for name in ENVIRONMENTS:
            self.api.env(name)
        pushed = self.api.push(statement(*DIGESTS))
        assert pushed.status == 201, pushed.body
        for slot, digest in first:
            self.deploy(slot, digest, None)
        self.touched = {r.id for r in self.records}

    # --- the model -------------------------------------------------------------------

    def active(self, slot: Slot) -> Record | None:
        found = [r for r in self.records if r.slot == slot and r.status == "deployed"]
        assert len(found) <= 1
        return found[0] if found else None

    def latest(self, slot: Slot) -> Record | None:
        found = [r for r in self.records if r.slot == slot]
        return found[-1] if found else None

    def active_slots(self) -> list[Slot]:
        return [s for s in SLOTS if self.active(s)]

    def decommissioned_slots(self) -> list[Slot]:
        return [
            s
            for s in SLOTS
            if not self.active(s) and (r := self.latest(s)) and r.status == "decommissioned"
        ]

    def rollbacks(self) -> list[tuple[Slot, str]]:
        """(slot, digest) of an ended record whose digest the slot does not run now."""
        pairs = set()
        for r in self.records:
            if r.status != "deployed" and (
                (a := self.active(r.slot)) is None or a.digest != r.digest
            ):
                pairs.add((r.slot, r.digest))
        return sorted(pairs)

    # --- requests --------------------------------------------------------------------

    def send(
        self,
        slot: Slot,
        digest: str,
        status: str,
        version: str | None = None,
        shout: bool = False,
    ) -> Reply:
        env, lenv, name, kind = slot
        body: dict[str, Any] = {
            "environment": env,
            "logical_environment": lenv,
            "deployment_name": name,
            # Input is case-insensitive (SPEC §2): the slot and the digest must not change.
            "kind": kind.lower() if shout else kind,
            "digest": shouted(digest) if shout else digest,
            "status": status,
        }
        if version is not None:
            body["artifact_name"] = "ghcr.io/acme/app"
            body["artifact_version"] = version
        self.slot = slot
        self.touched = set()
        return self.api.post("/v1/deployments", body)

    def deploy(self, slot: Slot, digest: str, version: str | None, shout: bool = False) -> None:
        before = self.active(slot)
        reply = self.send(slot, digest, "deployed", version, shout)
        answer = reply.json()
        if before is not None and before.digest == digest:
            assert (reply.status, answer["action"]) == (200, "heartbeat"), answer
            assert answer["id"] == before.id
            self.check_record(answer, before)
            assert answer["created_at"] == before.seen["created_at"]
            assert ts(answer["last_seen_at"]) >= ts(before.seen["last_seen_at"])
            assert ts(answer["updated_at"]) >= ts(before.seen["updated_at"])
            before.seen = answer
            self.touched = {before.id}
            return
        expected = "superseded_previous" if before else "created"
        assert (reply.status, answer["action"]) == (201, expected), answer
        assert answer["id"] not in {r.id for r in self.records}
        new = Record(
            answer["id"],
            slot,
            digest,
            # Without a name given, the record takes the attesting subject's name.
            "ghcr.io/acme/app" if version else SUBJECT_NAME,
            version,
        )
        self.check_record(answer, new)
        assert answer["created_at"] == answer["last_seen_at"] == answer["updated_at"]
        if before is not None:
            assert ts(answer["created_at"]) >= ts(before.seen["last_seen_at"])
            before.status, before.superseded_by = "superseded", new.id
            self.touched.add(before.id)
        new.seen = answer
        self.records.append(new)
        self.touched.add(new.id)

    def decommission(self, slot: Slot, digest: str, shout: bool = False) -> None:
        active, latest = self.active(slot), self.latest(slot)
        reply = self.send(slot, digest, "decommissioned", shout=shout)
        answer = reply.json()
        if active is not None and active.digest != digest:
            assert (reply.status, reply.error_code) == (409, "conflict"), answer
            return
        if active is not None:
            assert (reply.status, answer["action"]) == (200, "decommissioned"), answer
            assert answer["id"] == active.id
            active.status = "decommissioned"
            self.check_record(answer, active)
            assert answer["created_at"] == active.seen["created_at"]
            assert ts(answer["ended_at"]) >= ts(active.seen["updated_at"])
            active.seen = answer
            self.touched = {active.id}
            return
        if latest is not None and latest.status == "decommissioned" and latest.digest == digest:
            assert (reply.status, answer["action"]) == (200, "unchanged"), answer
            assert {k: v for k, v in answer.items() if k not in ANSWER_ONLY} == latest.seen
            return
        assert (reply.status, reply.error_code) == (404, "not_found"), answer

    def check_record(self, item: dict[str, Any], rec: Record) -> None:
        """An answer or list item says what the model knows of `rec`."""
        assert item["id"] == rec.id
        assert slot_of(item) == rec.slot
        assert item["artifact"] == {"digest": rec.digest, "name": rec.name, "version": rec.version}
        assert item["status"] == rec.status
        assert item["superseded_by"] == rec.superseded_by
        created, seen, updated = (ts(item[k]) for k in ("created_at", "last_seen_at", "updated_at"))
        assert created <= seen <= updated, item
        if rec.status == "deployed":
            assert item["ended_at"] is None, item
        else:
            assert ts(item["ended_at"]) >= seen, item
            assert item["ended_at"] == item["updated_at"], item

    # --- rules -----------------------------------------------------------------------

    @rule(
        slot=st.sampled_from(SLOTS),
        digest=st.sampled_from(DIGESTS),
        version=st.sampled_from(VERSIONS),
        shout=st.booleans(),
    )
    def record_deployed(self, slot: Slot, digest: str, version: str | None, shout: bool) -> None:
        """Create, supersede or heartbeat, whichever the slot's state makes it."""
        self.deploy(slot, digest, version, shout)

    @precondition(lambda self: self.active_slots())
    @rule(data=st.data(), version=st.sampled_from(VERSIONS))
    def heartbeat(self, data: st.DataObject, version: str | None) -> None:
        slot = data.draw(st.sampled_from(self.active_slots()))
        active = self.active(slot)
        assert active is not None
        self.deploy(slot, active.digest, version)  # another version never changes the artifact

    @precondition(lambda self: self.active_slots())
    @rule(data=st.data(), version=st.sampled_from(VERSIONS))
    def supersede(self, data: st.DataObject, version: str | None) -> None:
        slot = data.draw(st.sampled_from(self.active_slots()))
        active = self.active(slot)
        assert active is not None
        other = data.draw(st.sampled_from([d for d in DIGESTS if d != active.digest]))
        self.deploy(slot, other, version)

    @precondition(lambda self: self.rollbacks())
    @rule(data=st.data())
    def redeploy_an_earlier_digest(self, data: st.DataObject) -> None:
        slot, digest = data.draw(st.sampled_from(self.rollbacks()))
        self.deploy(slot, digest, None)

    @precondition(lambda self: self.active_slots())
    @rule(data=st.data())
    def decommission_the_deployed_digest(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.active_slots()))
        active = self.active(slot)
        assert active is not None
        self.decommission(slot, active.digest)

    @precondition(lambda self: self.active_slots())
    @rule(data=st.data())
    def decommission_the_wrong_digest(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.active_slots()))
        active = self.active(slot)
        assert active is not None
        self.decommission(
            slot, data.draw(st.sampled_from([d for d in DIGESTS if d != active.digest]))
        )

    @precondition(lambda self: self.decommissioned_slots())
    @rule(data=st.data(), shout=st.booleans())
    def decommission_again(self, data: st.DataObject, shout: bool) -> None:
        slot = data.draw(st.sampled_from(self.decommissioned_slots()))
        latest = self.latest(slot)
        assert latest is not None
        self.decommission(slot, latest.digest, shout)

    @precondition(lambda self: self.decommissioned_slots())
    @rule(data=st.data())
    def decommission_another_digest_of_an_emptied_slot(self, data: st.DataObject) -> None:
        slot = data.draw(st.sampled_from(self.decommissioned_slots()))
        latest = self.latest(slot)
        assert latest is not None
        self.decommission(
            slot, data.draw(st.sampled_from([d for d in DIGESTS if d != latest.digest]))
        )

    @rule(slot=st.sampled_from(SLOTS), digest=st.sampled_from(DIGESTS), shout=st.booleans())
    def decommission_any(self, slot: Slot, digest: str, shout: bool) -> None:
        """Empty slots, slots never used, wrong digests: whatever the draw gives."""
        self.decommission(slot, digest, shout)

    # --- what is stored --------------------------------------------------------------

    def listed(self, **params: Any) -> list[dict[str, Any]]:
        reply = self.api.get("/v1/deployments", params={"limit": 500, **params})
        assert reply.status == 200, reply.body
        page = reply.json()
        assert page["next_cursor"] is None
        return list(page["items"])

    def expect(self, items: list[dict[str, Any]], records: list[Record]) -> None:
        """`items` are `records` newest first, field for field."""
        assert [i["id"] for i in items] == [r.id for r in reversed(records)]
        for item, rec in zip(items, reversed(records), strict=True):
            self.check_record(item, rec)

    @invariant()
    def stored_history_is_the_model(self) -> None:
        if not hasattr(self, "api"):
            return
        history = self.listed(history=True)
        self.expect(history, self.records)
        by_id = {r.id: r for r in self.records}
        for item in history:
            rec = by_id[item["id"]]
            if item["id"] in self.touched:
                if rec.status == "superseded":
                    # The successor starts the moment its predecessor ends: no gap, no overlap.
                    successor = by_id[rec.superseded_by or ""]
                    assert item["ended_at"] == successor.seen["created_at"], item
                    assert item["last_seen_at"] == rec.seen["last_seen_at"], item
                    assert item["created_at"] == rec.seen["created_at"], item
                else:
                    assert item == {k: v for k, v in rec.seen.items() if k not in ANSWER_ONLY}
                rec.seen = item
            else:
                assert item == rec.seen, "a record the step did not touch changed"
        if not self.touched:
            return  # nothing changed (404, 409, unchanged): the history above proves it
        self.expect(self.listed(), [r for r in self.records if r.status == "deployed"])
        assert self.slot is not None
        self.expect(
            self.listed(history=True, **slot_filters(self.slot)),
            [r for r in self.records if r.slot == self.slot],
        )

    def teardown(self) -> None:
        """Once per example: the other ways of reading the same history."""
        if not hasattr(self, "api") or not self.records:
            return
        newest = self.records[-1]
        # Each filter on its own, with the newest record's values, and all four at once.
        for key, value in slot_filters(newest.slot).items():
            position = list(slot_filters(newest.slot)).index(key)
            chosen = [r for r in self.records if r.slot[position] == value]
            self.expect(self.listed(history=True, **{key: value}), chosen)
        self.expect(
            self.listed(history=True, digest=newest.digest),
            [r for r in self.records if r.digest == newest.digest],
        )
        self.expect(
            self.listed(**slot_filters(newest.slot)),
            [r for r in self.records if r.slot == newest.slot and r.status == "deployed"],
        )
        # Keyset pagination returns the same history, page after page.
        paged: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"history": True, "limit": 5, "cursor": cursor}
            page = self.api.get("/v1/deployments", params=params).json()
            paged += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.expect(paged, self.records)
        detail = self.api.get(f"/v1/deployments/{newest.id}").json()
        assert {k: v for k, v in detail.items() if k != "evidence"} == newest.seen
        # The audit log: intact, and one entry per transition of the model.
        verdict = self.api.get("/v1/audit/verify").json()
        assert verdict["intact"] is True, verdict
        entries = self.api.get("/v1/audit", params={"limit": 500}).json()
        assert entries["next_cursor"] is None
        transitions = Counter(
            (e["action"], e["target"])
            for e in entries["items"]
            if e["action"].startswith("deployment.")
        )
        expected = Counter(("deployment.created", f"deployment/{r.id}") for r in self.records)
        for r in self.records:
            if r.status != "deployed":
                expected[(f"deployment.{r.status}", f"deployment/{r.id}")] += 1
        assert transitions == expected


def slot_filters(slot: Slot) -> dict[str, str]:
    return dict(
        zip(("environment", "logical_environment", "deployment_name", "kind"), slot, strict=True)
    )


@pytest.fixture
def harness_db(database_url: str) -> Iterator[Database]:
    """One migrated database of the parametrized backend for all examples of the test."""
    db = Database(database_url)
    yield db
    db.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_records_follow_the_spec_model(harness_db: Database) -> None:
    machine = type(
        "Machine",
        (DeploymentMachine,),
        {
            "db": harness_db,
            "app": create_app(Runtime(db=harness_db, settings=Settings(), local_actor=None)),
        },
    )
    run_state_machine_as_test(machine, settings=SETTINGS)
