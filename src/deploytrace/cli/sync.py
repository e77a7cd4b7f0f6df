"""`deploytrace deployment sync`: report the complete set of what runs in one scope (SPEC §7).

The input (a pod list file or stdin, a live cluster, or a plain deployments
document) is turned into a snapshot by `deploytrace.inventory` and POSTed to
`/v1/environments/{env}/snapshots`. With `--every` the command becomes a
reporter: it reports until SIGTERM/SIGINT, backs off while the server is
unreachable, and can serve a liveness endpoint.

Workloads that run but cannot be listed are never dropped silently: those
without a repository digest travel in the request's `unattested` field so the
server keeps them with the scope's unattested workloads; those whose name is
not a DNS-1123 subdomain cannot be stored under that name and are added to the
answer shown to the user. Either way they appear in the answer's `unattested`.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import click

from deploytrace import errors
from deploytrace.cli.client import segment
from deploytrace.cli.main import State, common_options

REFUSED_EXIT = 8  # SPEC §5/§9: refused by policy (the rest applied)
BACKOFF_START = 2.0
BACKOFF_CAP = 300.0
HEALTHY_INTERVALS = 3  # /healthz fails after this many intervals without a success
# Failures a reporter cannot fix by waiting: reported, then retried at the normal interval.
_PERMANENT = (
    errors.InvalidInput,
    errors.NotFound,
    errors.Conflict,
    errors.Unauthenticated,
    errors.Forbidden,
)


def default_scope(scope: str | None, namespaces: tuple[str, ...]) -> str:
    """`--scope`, else `ns:` + the sorted namespaces, else `default` (SPEC §7)."""
    if scope is not None:
        return scope
    if namespaces:
        return "ns:" + ",".join(sorted(set(namespaces)))
    return "default"


def snapshot_body(
    inventory: Any,
    logical_environment: str,
    scope: str,
    observed_at: str | None,
    dry_run: bool,
) -> dict[str, Any]:
    """The request body of POST /v1/environments/{env}/snapshots."""
    body: dict[str, Any] = {"logical_environment": logical_environment, "scope": scope}
    if observed_at is not None:
        body["observed_at"] = observed_at
    if dry_run:
        body["dry_run"] = True
    body["deployments"] = [w.as_json() for w in inventory.workloads]
    unattested = [
        {
            "deployment_name": u.deployment_name,
            "kind": u.kind,
            "artifact_name": u.artifact_name,
            "artifact_version": u.artifact_version,
            "reason": u.reason,
        }
        for u in inventory.reportable_unattested()
    ]
    if unattested:  # absent when empty: a body any snapshot endpoint accepts
        body["unattested"] = unattested
    return body


def merge_unattested(answer: dict[str, Any], inventory: Any) -> dict[str, Any]:
    """Add the reporter's own unreported workloads to the answer when the server did not."""
    listed = answer.get("unattested")
    shown = list(listed) if isinstance(listed, list) else []
    known = {(u.get("deployment_name"), u.get("kind")) for u in shown if isinstance(u, dict)}
    for u in inventory.unreported:
        if (u.deployment_name, u.kind) not in known:
            shown.append(u.as_json())
    return {**answer, "unattested": shown}


class Health:
    """Liveness of a reporter: fresh while the last success is recent."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_success: float | None = None
        self.last_error: str | None = None

    def succeeded(self) -> None:
        self.last_success = self.clock()
        self.last_error = None

    def failed(self, message: str) -> None:
        self.last_error = message

    def state(self) -> tuple[bool, dict[str, Any]]:
        since = self.last_success if self.last_success is not None else self.started
        age = self.clock() - since
        healthy = age <= HEALTHY_INTERVALS * self.interval
        body: dict[str, Any] = {
            "status": "ok" if healthy else "stale",
            "last_success_age_seconds": None if self.last_success is None else round(age, 1),
            "last_error": self.last_error,
        }
        return healthy, body


def serve_health(health: Health, port: int) -> Any:
    """`GET /healthz` (and `/readyz`): 200 while reports succeed, 503 once they stop."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/healthz", "/readyz"):
                self._send(404, {"status": "not found"})
                return
            healthy, body = health.state()
            self._send(200 if healthy else 503, body)

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the report lines

    try:
        server = http.server.ThreadingHTTPServer(("0.0.0.0", port), Handler)  # noqa: S104
    except OSError as error:
        raise errors.InvalidInput(f"cannot serve --health-port {port}: {error.strerror}") from None
    threading.Thread(target=server.serve_forever, name="healthz", daemon=True).start()
    return server


class Backoff:
    """Bounded exponential backoff with jitter, so many reporters do not retry in step."""

    def __init__(self, start: float = BACKOFF_START, cap: float = BACKOFF_CAP) -> None:
        self.start = start
        self.cap = cap
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        delay = min(self.cap, self.start * 2 ** (self.failures - 1))
        import random  # here: `deployment list` and friends import this module too

        return float(min(self.cap, delay * random.uniform(0.8, 1.2)))  # noqa: S311

    def reset(self) -> None:
        self.failures = 0


@click.command(help="Report the complete set of what runs in one scope (a snapshot).")
@click.option("--env", "environment", required=True, help="Environment (infrastructure target).")
@click.option(
    "--logical-env", "logical_environment", required=True, help="Logical environment (stage)."
)
@click.option(
    "--from",
    "source",
    default=None,
    metavar="FILE",
    help="Pod list (kubectl get pods -A -o json) or deployments document; - for stdin.",
)
@click.option("--kubernetes", is_flag=True, help="Read the pods of the live cluster.")
@click.option("--context", default=None, help="kubeconfig context (with --kubernetes).")
@click.option(
    "--namespace",
    "namespaces",
    multiple=True,
    help="Only this namespace (repeatable; with --kubernetes). Default: all.",
)
@click.option(
    "--scope", default=None, help="What this reporter owns [default: default, or ns:<namespaces>]."
)
@click.option("--observed-at", default=None, help="When the set was observed (RFC 3339).")
@click.option("--dry-run", is_flag=True, help="Answer what would change; change nothing.")
@click.option(
    "--every", default=None, metavar="DURATION", help="Keep reporting, e.g. 60s, until stopped."
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="With --every: serve GET /healthz on this port.",
)
@common_options
def sync(
    state: State,
    environment: str,
    logical_environment: str,
    source: str | None,
    kubernetes: bool,
    context: str | None,
    namespaces: tuple[str, ...],
    scope: str | None,
    observed_at: str | None,
    dry_run: bool,
    every: str | None,
    health_port: int | None,
) -> None:
    if (source is None) == (not kubernetes):
        raise click.UsageError("give exactly one of --from FILE and --kubernetes")
    if source is not None and (context or namespaces):
        raise click.UsageError("--context and --namespace go with --kubernetes")
    if every is None and health_port is not None:
        raise click.UsageError("--health-port goes with --every")
    if every is not None and source == "-":
        raise click.UsageError("--every re-reads its input: give a file or --kubernetes, not -")
    if every is not None and observed_at is not None:
        raise click.UsageError("--every reports what runs now: --observed-at does not apply")
    scope_name = default_scope(scope, namespaces)

    def read() -> Any:
        from deploytrace import inventory

        if source is not None:
            return inventory.read_path(source)
        from deploytrace.inventory.cluster import ClusterSource

        return inventory.read_cluster(
            ClusterSource(
                context=context, namespaces=namespaces, timeout=state.settings.http_timeout
            )
        )

    def report() -> dict[str, Any]:
        inventory = read()
        body = snapshot_body(inventory, logical_environment, scope_name, observed_at, dry_run)
        answer = state.client.call(
            "POST", f"/v1/environments/{segment(environment)}/snapshots", json_body=body
        )
        if not isinstance(answer, dict):
            raise errors.DeploytraceError("the server's answer is not a JSON object")
        return merge_unattested(answer, inventory)

    if every is None:
        answer = report()
        _show(state, answer, every=False, dry_run=dry_run)
        if answer.get("refused"):
            raise click.exceptions.Exit(REFUSED_EXIT)
        return
    from deploytrace.services.validation import duration

    interval = duration(every).total_seconds()
    _report_every(state, report, interval, health_port, dry_run)


def _report_every(
    state: State,
    report: Callable[[], dict[str, Any]],
    interval: float,
    health_port: int | None,
    dry_run: bool,
) -> None:
    """Report until SIGTERM/SIGINT; the report in flight when it arrives completes first."""
    import signal

    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    health = Health(interval)
    server = serve_health(health, health_port) if health_port is not None else None
    if server is not None:
        _log(f"liveness on http://0.0.0.0:{server.server_address[1]}/healthz")
    backoff = Backoff()
    first = True
    try:
        while not stop.is_set():
            try:
                answer = report()
            except errors.DeploytraceError as error:
                if first and isinstance(error, _PERMANENT):
                    raise  # misconfigured from the start: fail loudly, not in a log line
                health.failed(error.message)
                if isinstance(error, _PERMANENT):
                    wait = interval
                    backoff.reset()
                else:
                    wait = backoff.next()
                _log(f"report failed: {error.message}; next attempt in {wait:.0f}s")
            else:
                health.succeeded()
                backoff.reset()
                wait = interval
                _show(state, answer, every=True, dry_run=dry_run)
            first = False
            stop.wait(wait)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if server is not None:
            server.shutdown()
            server.server_close()
    _log("stopped")


def _log(message: str) -> None:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stderr.write(f"{now} sync: {message}\n")
    sys.stderr.flush()


def _show(state: State, answer: dict[str, Any], *, every: bool, dry_run: bool) -> None:
    if state.json:
        # A reporter writes JSON Lines: one answer per report.
        text = json.dumps(answer) if every else json.dumps(answer, indent=2)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return
    from deploytrace.cli import output

    lines = [output.safe(_summary(answer, dry_run))]
    if not every or _changed(answer):
        lines += _details(answer, colour=output.colour_enabled())
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


_LISTS = ("created", "superseded", "decommissioned", "unattested", "refused", "stale")


def _count(answer: dict[str, Any], key: str) -> int:
    value = answer.get(key)
    if isinstance(value, list):
        return len(value)
    return value if isinstance(value, int) else 0


def _changed(answer: dict[str, Any]) -> bool:
    return any(_count(answer, key) for key in _LISTS)


def _summary(answer: dict[str, Any], dry_run: bool) -> str:
    raw = answer.get("snapshot")
    snapshot: dict[str, Any] = raw if isinstance(raw, dict) else {}
    words = ["dry run (nothing changed)" if dry_run else "synced"]
    where = "/".join(
        str(snapshot[k]) for k in ("environment", "logical_environment") if snapshot.get(k)
    )
    if where:
        words.append(where)
    if snapshot.get("scope"):
        words.append(f"scope {snapshot['scope']}")
    if snapshot.get("observed_at"):
        words.append(f"at {snapshot['observed_at']}")
    counts = ", ".join(
        f"{_count(answer, key)} {key}"
        for key in ("created", "superseded", "heartbeats", "decommissioned", *_LISTS[3:])
    )
    return " ".join(words) + f": {counts}"


def _details(answer: dict[str, Any], *, colour: bool = False) -> list[str]:
    """One line per listed workload; names and reasons come from the runtime, so every
    cell is made safe for the terminal (a pod annotation can hold anything)."""
    from deploytrace.cli import output

    rows: list[tuple[str, str, str, str]] = []
    for key in _LISTS:
        items = answer.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict):
                continue
            raw = item.get("artifact")
            artifact: dict[str, Any] = raw if isinstance(raw, dict) else {}
            digest = item.get("digest") or artifact.get("digest")
            reason = item.get("reason") or item.get("ended_reason") or ""
            where = item.get("where") or item.get("detail") or ""
            note = f"{reason} ({where})" if reason and where else str(reason or where)
            name = str(item.get("deployment_name", "?"))
            safe = output.safe
            rows.append((key, safe(name), safe(output.short_digest(digest)), safe(note)))
    if not rows:
        return []
    widths = [max(output.cell_width(row[i]) for row in rows) for i in range(3)]

    def cell(i: int, text: str) -> str:
        padded = text + " " * (widths[i] - output.cell_width(text))
        if i == 0:  # the key, coloured as its status word
            return output.render(output.status(text), colour) + padded[len(text) :]
        return padded

    return [
        "  "
        + "  ".join(cell(i, text) for i, text in enumerate(row[:3])).rstrip()
        + (f"  {row[3]}" if row[3] else "")
        for row in rows
    ]
