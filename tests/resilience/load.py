"""Concurrent clients recording deployments through `deploytrace server` processes, and the
audit of what the database holds afterwards.

`Load` runs client threads that each loop over random slots sending creates, supersedes,
heartbeats and decommissions (right and wrong digests) to whichever servers are current,
and keeps every outcome: the answer, or the transport error when there was none.

`check_survivors` is the after-the-crash audit shared by the resilience tests: everything
the API acknowledged is stored as acknowledged, each slot's history is a well-formed chain
(SPEC §3), at most one record per slot is `deployed` (checked in SQL), and the audit log
is intact and has exactly one entry per transition.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import text

from deploytrace.services import tenancy
from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.support.digests import digest
from tests.support.statements import statement

ENVIRONMENTS = ("k8s-east", "k8s-west")
LOGICAL_ENVIRONMENTS = ("production", "staging")
NAMES = ("api", "web")
KINDS = ("CONTAINER_IMAGE", "HELM_CHART")
Slot = tuple[str, str, str, str]
SLOTS: list[Slot] = list(itertools.product(ENVIRONMENTS, LOGICAL_ENVIRONMENTS, NAMES, KINDS))
DIGESTS = tuple(digest(f"resilience-{i}") for i in range(4))

DEPLOY_ACTIONS = {"created": 201, "superseded_previous": 201, "heartbeat": 200}
DECOMMISSION_ACTIONS = {"decommissioned": 200, "unchanged": 200}


def prepare_database(database_url: str) -> str:
    """Migrate, create the org `acme` and return an admin token of it."""
    db = Database(database_url)
    try:
        migrate.upgrade(db)
        _, token = tenancy.bootstrap(db, "acme")
    finally:
        db.dispose()
    return token


def client(base_url: str, token: str, timeout: float = 30) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )


def prepare_org(c: httpx.Client) -> None:
    """The environments of SLOTS, and one attestation naming every digest of DIGESTS."""
    for name in ENVIRONMENTS:
        r = c.post("/v1/environments", json={"name": name})
        assert r.status_code == 201, r.text
    r = c.post("/v1/attestations", content=statement(*DIGESTS))
    assert r.status_code in (200, 201), r.text


def body(slot: Slot, d: str, status: str = "deployed") -> dict[str, str]:
    env, lenv, name, kind = slot
    return {
        "environment": env,
        "logical_environment": lenv,
        "deployment_name": name,
        "kind": kind,
        "digest": d,
        "status": status,
    }


def slot_of(item: dict[str, Any]) -> Slot:
    return (
        item["environment"],
        item["logical_environment"],
        item["deployment_name"],
        item["kind"],
    )


def ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Outcome:
    """One request of the load: its answer, or `error` when none came back."""

    target: str
    body: dict[str, str]
    started: float
    ended: float
    status: int | None
    answer: Any
    error: str | None

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)

    @property
    def deploys(self) -> bool:
        return self.body["status"] == "deployed"

    @property
    def elapsed(self) -> float:
        return self.ended - self.started

    def __str__(self) -> str:
        what = f"{self.body['status']} {self.body['digest'][:15]} in {slot_of(self.body)}"
        got = self.error or f"{self.status} {str(self.answer)[:300]}"
        return f"{what} -> {self.target} after {self.elapsed:.2f}s: {got}"


def check_answer(o: Outcome, *, unavailable_ok: bool = False) -> None:
    """An answer the contract allows for the request (an acknowledgement, 404/409 for a
    decommission, and 503 only where the caller expects the database to be away)."""
    assert o.status is not None, str(o)
    if o.acknowledged:
        actions = DEPLOY_ACTIONS if o.deploys else DECOMMISSION_ACTIONS
        assert o.answer.get("action") in actions, str(o)
        assert o.status == actions[o.answer["action"]], str(o)
        assert o.answer["id"] and o.answer["artifact"]["digest"] == o.body["digest"], str(o)
        assert slot_of(o.answer) == slot_of(o.body), str(o)
        return
    allowed = {404: "not_found", 409: "conflict"} if not o.deploys else {}
    if unavailable_ok:
        allowed[503] = "unavailable"
    assert o.status in allowed, str(o)
    assert o.answer["error"]["code"] == allowed[o.status], str(o)


class Load:
    """Client threads sending records to the current targets until stopped."""

    def __init__(
        self, token: str, targets: list[str], *, threads: int, seed: int, timeout: float = 30
    ) -> None:
        self.token = token
        self.timeout = timeout
        self.seed = seed
        self._targets = list(targets)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._outcomes: list[Outcome] = []
        self._errors: list[BaseException] = []
        self._threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)
        ]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 10)
            assert not t.is_alive(), "a client thread is stuck"
        assert not self._errors, self._errors

    def set_targets(self, targets: list[str]) -> None:
        with self._lock:
            self._targets = list(targets)

    def outcomes(self) -> list[Outcome]:
        with self._lock:
            return list(self._outcomes)

    def wait_until(
        self, predicate: Callable[[list[Outcome]], bool], what: str, timeout: float = 20
    ) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.outcomes()):
            assert not self._errors, self._errors
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    def wait_for_acks(self, n: int, *, since: float = 0.0, timeout: float = 20) -> None:
        self.wait_until(
            lambda outs: sum(o.acknowledged and o.started >= since for o in outs) >= n,
            f"{n} acknowledged records",
            timeout,
        )

    def _run(self, index: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        known: dict[Slot, str] = {}  # the digest this client last saw acknowledged per slot
        clients: dict[str, httpx.Client] = {}
        try:
            while not self._stop.is_set():
                with self._lock:
                    target = rng.choice(self._targets)
                slot = rng.choice(SLOTS)
                roll = rng.random()
                if roll < 0.08:
                    request = body(slot, rng.choice(DIGESTS), "decommissioned")
                elif roll < 0.55 or slot not in known:
                    request = body(slot, rng.choice(DIGESTS))  # create, supersede, heartbeat
                elif roll < 0.75:
                    request = body(slot, known[slot])  # a heartbeat, unless the slot moved
                else:
                    request = body(slot, known[slot], "decommissioned")
                outcome = self._send(clients, target, request)
                with self._lock:
                    self._outcomes.append(outcome)
                if outcome.acknowledged:
                    known[slot] = request["digest"]
        except BaseException as error:  # surfaced by stop()
            self._errors.append(error)
        finally:
            for c in clients.values():
                c.close()

    def _send(self, clients: dict[str, httpx.Client], target: str, req: dict[str, str]) -> Outcome:
        c = clients.get(target)
        if c is None:
            c = clients[target] = client(target, self.token, self.timeout)
        started = time.monotonic()
        try:
            r = c.post("/v1/deployments", json=req)
        except httpx.TransportError as error:
            ended = time.monotonic()
            c.close()
            del clients[target]  # a fresh connection next time
            return Outcome(target, req, started, ended, None, None, f"{type(error).__name__}")
        ended = time.monotonic()
        try:
            answer = r.json()
        except ValueError:
            answer = r.text
        return Outcome(target, req, started, ended, r.status_code, answer, None)


def pages(c: httpx.Client, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        r = c.get(path, params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        yield from page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return


def check_survivors(c: httpx.Client, database_url: str, outcomes: list[Outcome]) -> Counter[str]:
    """Everything acknowledged survived as acknowledged; the stored history is well formed.

    `c` talks to a live server of the org the load wrote to. Returns counts for the report.
    """
    history = list(pages(c, "/v1/deployments", {"history": "true"}))
    by_id = {item["id"]: item for item in history}
    assert len(by_id) == len(history), "a record is listed twice"

    _check_chains(history)
    _check_sql(database_url, by_id)
    heartbeats = _heartbeat_counts(database_url)

    acked_beats: Counter[str] = Counter()
    for o in outcomes:
        if not o.acknowledged:
            continue
        a = o.answer
        stored = by_id.get(a["id"])
        assert stored is not None, f"acknowledged record lost: {o}"
        assert slot_of(stored) == slot_of(o.body), str(o)
        assert stored["artifact"] == a["artifact"], str(o)
        assert stored["created_at"] == a["created_at"], str(o)
        assert ts(stored["last_seen_at"]) >= ts(a["last_seen_at"]), str(o)
        assert ts(stored["updated_at"]) >= ts(a["updated_at"]), f"updated_at went back: {o}"
        if a["status"] == "deployed":
            assert a["action"] in DEPLOY_ACTIONS, str(o)
        else:
            # Ended records never move again.
            assert a["action"] in DECOMMISSION_ACTIONS, str(o)
            assert (stored["status"], stored["ended_at"]) == (a["status"], a["ended_at"]), str(o)
        if a["action"] == "heartbeat":
            acked_beats[a["id"]] += 1
    for record_id, n in acked_beats.items():
        assert heartbeats[record_id] >= n, (record_id, heartbeats[record_id], n)

    _check_audit(c, history)

    counts: Counter[str] = Counter(
        "acked " + o.answer["action"] if o.acknowledged else f"answer {o.status or o.error}"
        for o in outcomes
    )
    counts["records"] = len(history)
    return counts


def _check_chains(history: list[dict[str, Any]]) -> None:
    """Per slot, oldest first: every record but the last ended; a superseded record points
    at the next one, which starts the moment it ended; at most the last is deployed."""
    slots: dict[Slot, list[dict[str, Any]]] = defaultdict(list)
    for item in reversed(history):  # the list is newest first
        slots[slot_of(item)].append(item)
    for slot, chain in slots.items():
        for i, rec in enumerate(chain):
            where = f"{slot} record {i} of {len(chain)}: {rec}"
            assert ts(rec["created_at"]) <= ts(rec["last_seen_at"]), f"seen before created: {where}"
            if rec["status"] == "deployed":
                assert i == len(chain) - 1, where
                assert rec["ended_at"] is None and rec["superseded_by"] is None, where
                continue
            assert rec["ended_at"] is not None, where
            assert ts(rec["last_seen_at"]) <= ts(rec["ended_at"]), (
                f"last seen after it ended: {where}"
            )
            if i + 1 < len(chain):
                assert ts(chain[i + 1]["created_at"]) >= ts(rec["ended_at"]), f"overlap: {where}"
            if rec["status"] == "superseded":
                assert i + 1 < len(chain), where
                assert rec["superseded_by"] == chain[i + 1]["id"], where
                assert chain[i + 1]["created_at"] == rec["ended_at"], f"gap or overlap: {where}"
            else:
                assert rec["status"] == "decommissioned", where
                assert rec["superseded_by"] is None, where


def _check_sql(database_url: str, by_id: dict[str, dict[str, Any]]) -> None:
    db = Database(database_url)
    try:
        with db.read() as conn:
            doubles = conn.execute(
                text(
                    "SELECT org_id, environment_id, logical_environment_id, deployment_name, "
                    "kind, count(*) FROM deployment_records WHERE status = 'deployed' "
                    "GROUP BY org_id, environment_id, logical_environment_id, deployment_name, "
                    "kind HAVING count(*) > 1"
                )
            ).all()
            dangling = conn.execute(
                text(
                    "SELECT r.id FROM deployment_records r WHERE r.superseded_by IS NOT NULL "
                    "AND NOT EXISTS (SELECT 1 FROM deployment_records s "
                    "WHERE s.id = r.superseded_by)"
                )
            ).all()
            superseded_without_pointer = conn.scalar(
                text(
                    "SELECT count(*) FROM deployment_records "
                    "WHERE (status = 'superseded') != (superseded_by IS NOT NULL)"
                )
            )
            stored = conn.scalar(text("SELECT count(*) FROM deployment_records"))
    finally:
        db.dispose()
    assert doubles == [], f"slots with two deployed records: {doubles}"
    assert dangling == [], f"superseded_by names no stored record: {dangling}"
    assert superseded_without_pointer == 0
    assert stored == len(by_id), "the API does not list every stored record"


def _heartbeat_counts(database_url: str) -> dict[str, int]:
    db = Database(database_url)
    try:
        with db.read() as conn:
            rows = conn.execute(text("SELECT id, heartbeats FROM deployment_records")).all()
    finally:
        db.dispose()
    return {str(row.id): int(row.heartbeats) for row in rows}


def _check_audit(c: httpx.Client, history: list[dict[str, Any]]) -> None:
    """The chain verifies, and each transition has exactly one entry (written in the
    transaction of the change: a crash keeps both or neither)."""
    verdict = c.get("/v1/audit/verify")
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["intact"] is True, verdict.json()
    targets: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in pages(c, "/v1/audit", {}):
        if entry["action"].startswith("deployment."):
            targets[entry["action"]][entry["target"]] += 1

    def expected(*statuses: str) -> Counter[str]:
        return Counter(f"deployment/{i['id']}" for i in history if i["status"] in statuses)

    assert targets["deployment.created"] == expected("deployed", "superseded", "decommissioned")
    assert targets["deployment.superseded"] == expected("superseded")
    assert targets["deployment.decommissioned"] == expected("decommissioned")
