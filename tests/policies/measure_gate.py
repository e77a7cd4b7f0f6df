"""A micro-measurement of the policy gate (not a test, not a benchmark): a minute at most.

    python -m tests.policies.measure_gate

Prints, for the three example policies on an artifact with three real attestations:
- the engine in-process (compiled once, input loaded once, three queries), the floor;
- the time-limit designs that were considered, each running the same three policies:
  a persistent worker process (chosen), a fork per evaluation, a new process per
  evaluation;
- `check()` end to end on SQLite (read, build the input, evaluate) with the three
  policies attached, against `check()` with none attached: the latency a record
  creation gains.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "policies"
CORPUS = ROOT / "tests" / "data" / "attestations"
RULES_LINT = "sha256:1636f443b01c9ee310ee5834956d0dce374c3d3bf8d4cebc9f6b86f8304b4982"


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[89]


def cpu_ms(box: object, fn: Callable[[], object], n: int) -> float:
    """CPU milliseconds per call, this process plus the sandbox's workers: on a busy
    machine, closer to what the call costs than the wall clock."""

    def workers() -> float:
        total = 0.0
        for worker in list(getattr(box, "_idle", [])):
            with open(f"/proc/{worker.proc.pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    before = time.process_time() + workers()
    for _ in range(n):
        fn()
    return (time.process_time() + workers() - before) * 1000 / n


def report(label: str, p50: float, p90: float) -> None:
    print(f"{label:<58} p50 {p50:7.2f} ms   p90 {p90:7.2f} ms")


def main() -> None:
    from deploytrace.policies import document, engine, evaluate, inputs, sandbox
    from deploytrace.services import policies, tenancy
    from deploytrace.storage import migrate
    from deploytrace.storage.db import Database

    box = sandbox.Sandbox(workers=2)
    sandbox.use(box)
    docs = [
        document.load((EXAMPLES / f"{n}.yaml").read_bytes(), box)
        for n in ("slsa-signed", "sbom-present", "promotion")
    ]

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/m.db")
        migrate.upgrade(db)
        actor = tenancy.local_actor(db)
        from deploytrace.services import attestations, environments

        environments.environments.create(db, actor, "k8s-east", None)
        for path in (
            "slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl",
            "trivy/centos-7-cyclonedx.intoto.jsonl",
            "sigstore-conformance/statement.json",
        ):
            data = (CORPUS / path).read_bytes()
            if path.startswith("trivy") or path.startswith("sigstore-conformance"):
                # Name the same artifact, so that it has three attestations.
                doc = json.loads(data)
                if "payload" in doc:
                    import base64

                    statement = json.loads(base64.b64decode(doc["payload"]))
                else:
                    statement = doc
                statement["subject"] = [{"name": "x", "digest": {"sha256": RULES_LINT[7:]}}]
                data = json.dumps(statement).encode()
            attestations.push(db, actor, data)
        target = policies.Target(RULES_LINT, "CONTAINER_IMAGE", "k8s-east", "production", "api")

        none = timed(lambda: policies.check(db, actor, target), 200)
        none_cpu = cpu_ms(box, lambda: policies.check(db, actor, target), 200)
        for d in docs:
            policies.add(db, actor, d.content)
            policies.attach(db, actor, d.name, "production")
        policies.check(db, actor, target)  # workers started, modules compiled
        three = timed(lambda: policies.check(db, actor, target), 200)
        three_cpu = cpu_ms(box, lambda: policies.check(db, actor, target), 200)
        decision = policies.check(db, actor, target)
        print(f"decision: {decision.status} {[r.status for r in decision.results]}")

        # The same evaluation by hand, for the design comparison.
        with db.read() as conn:
            rows = policies.store.gate_policies(conn, actor.org_id, "k8s-east", "production")
            ev = policies.store.evidence(conn, actor.org_id, {RULES_LINT: "CONTAINER_IMAGE"}, 200)
            dep = policies.store.deployed_in(conn, actor.org_id, [RULES_LINT])
        facts = policies._facts([target], ev, dep)
        attached = policies._attached(rows)
        payload = json.dumps(inputs.document(facts[0])).encode()
        print(f"input document: {len(payload)} bytes, {len(facts[0].attestations)} attestations")

    compiled = [engine.compile(e.source, e.package) for d in docs for e in d.entries]
    runner = engine.Runner()
    value = json.loads(payload)

    def in_process() -> None:
        runner.set_input(value)
        for c in compiled:
            runner.query(c)

    tasks = [sandbox.Task(e.module, 0) for d in docs for e in d.entries]

    def worker() -> None:
        box.run([payload], tasks)

    def fork_each() -> None:
        for c in compiled:
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - child
                r = engine.Runner()
                r.set_input(value)
                os.write(write, json.dumps(r.query(c)).encode())
                os._exit(0)
            os.close(write)
            while os.read(read, 65536):
                pass
            os.close(read)
            os.waitpid(pid, 0)

    def spawn_each() -> None:
        fresh = sandbox.Sandbox(workers=1)
        try:
            for task in tasks:
                fresh.run([payload], [task])
                fresh.close()
                fresh = sandbox.Sandbox(workers=1)
        finally:
            fresh.close()

    print(
        f"engine: regopy {engine.version()}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    report("engine in-process, 3 policies (no time limit possible)", *timed(in_process, 200))
    report("persistent worker pool, 3 policies (chosen)", *timed(worker, 200))
    report("fork per evaluation, 3 policies", *timed(fork_each, 30))
    report("new process per evaluation, 3 policies", *timed(spawn_each, 3))
    report("check() on SQLite, nothing attached", *none)
    report("check() on SQLite, the 3 examples attached", *three)
    print(f"added by three policies: p50 {three[0] - none[0]:.2f} ms wall")
    print(
        f"CPU per check(), this process + workers: none {none_cpu:.2f} ms, "
        f"three policies {three_cpu:.2f} ms (added {three_cpu - none_cpu:.2f} ms)"
    )
    print(f"persistent worker pool, CPU per run of 3 policies: {cpu_ms(box, worker, 200):.2f} ms")
    _ = (attached, evaluate)
    box.close()


if __name__ == "__main__":
    main()
