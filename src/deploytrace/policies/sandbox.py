"""Where Rego runs: a small pool of worker processes, killed and replaced on a timeout.

rego-cpp evaluates in C++ and cannot be interrupted from a Python thread: a
policy that loops would keep a thread and a core busy for as long as it likes.
So every evaluation runs in a worker process (`worker.py`) that the parent
kills when it overruns its time limit, and that cannot allocate more than its
memory limit. Workers live as long as they stay healthy and keep the modules
they compiled, keyed by a hash of the module's package and source, so a
policy is compiled once per worker and a new version (new content, new key)
is never served from an old compilation.

An evaluation that times out, crashes its worker or fails in the engine comes
back as an `Outcome` with an `error`: callers count it as a violation.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from deploytrace.policies.worker import read_frame, write_frame

MIB = 1024 * 1024
TIME_LIMIT = 2.0  # seconds per evaluation
MEMORY_LIMIT = 1024 * MIB  # address space of one worker
INPUT_SECONDS_PER_MIB = 2.0  # loading an input into rego-cpp costs ~0.5 s per MiB
WORKERS = 2
SPAWN_TIMEOUT = 60.0  # python start + importing regopy: ~0.15 s, more on a busy machine
RECYCLE_AFTER = 20_000  # evaluations; rego-cpp is young, a fresh process is cheap insurance


@dataclass(frozen=True)
class Module:
    """One Rego module and the package whose `result` is queried."""

    source: str
    package: str
    key: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(f"{self.package}\x00{self.source}".encode()).hexdigest()
        object.__setattr__(self, "key", digest)


@dataclass(frozen=True)
class Task:
    """Evaluate `module` against `inputs[input]`."""

    module: Module
    input: int


@dataclass(frozen=True)
class Outcome:
    """The value of `result` (None: undefined), or why there is none."""

    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class Inspection:
    builtins: tuple[str, ...]  # every built-in the module calls
    unknown: tuple[str, ...]  # those the engine does not have
    rules: tuple[tuple[str, ...], ...]  # package path + rule name


class CompileError(Exception):
    """The engine refused the module; `line`/`column` locate the first error."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _Lost(Exception):
    """The worker overran its time or died: it is gone and must be replaced."""


class _Worker:
    def __init__(self, memory_limit: int) -> None:
        self.memory_limit = memory_limit
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "deploytrace.policies.worker", str(memory_limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=_child_environment(),
            close_fds=True,
            # Out of the terminal's process group: Ctrl-C goes to the CLI, which cleans up.
            start_new_session=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd = self.proc.stdin.fileno()
        self.rfd = self.proc.stdout.fileno()
        self.known: set[str] = set()
        self.evaluations = 0

    def ready(self, timeout: float) -> None:
        """Wait until the worker has imported the engine (not counted in any time limit)."""
        self.call({"op": "ping"}, None, timeout)

    def call(self, request: dict[str, Any], payload: bytes | None, timeout: float) -> Any:
        try:
            write_frame(self.wfd, json.dumps(request).encode())
            if payload:
                _write_all(self.wfd, payload)
        except OSError:
            raise _Lost("the policy engine process died") from None
        deadline = time.monotonic() + timeout
        if not _wait_readable(self.rfd, deadline):
            raise _Lost(f"timed out after {timeout:g} s")
        # A worker that starts answering writes its whole frame at once.
        frame = read_frame(self.rfd)
        if frame is None:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
            if code == -signal.SIGABRT:
                # std::bad_alloc at the memory limit aborts the worker, as does any
                # exception rego-cpp lets escape.
                limit = self.memory_limit // MIB
                raise _Lost(
                    f"the policy engine aborted (over the memory limit of {limit} MiB, "
                    "or an engine failure)"
                )
            raise _Lost(f"the policy engine process died (exit {code})")
        return json.loads(frame)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Ask it to leave (EOF on its input), then make sure it did."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _wait_readable(fd: int, deadline: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            if poller.poll(left * 1000):
                return True
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue


def _child_environment() -> dict[str, str]:
    """No secrets for a policy to find: the worker sees only where Python code lives."""
    paths = [p for p in sys.path if p]
    return {"PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}


class Sandbox:
    """A pool of Rego workers with per-evaluation time limits."""

    def __init__(
        self,
        *,
        workers: int = WORKERS,
        time_limit: float = TIME_LIMIT,
        memory_limit: int = MEMORY_LIMIT,
        input_seconds_per_mib: float = INPUT_SECONDS_PER_MIB,
        spawn_timeout: float = SPAWN_TIMEOUT,
    ) -> None:
        self.size = max(1, workers)
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.input_seconds_per_mib = input_seconds_per_mib
        self.spawn_timeout = spawn_timeout
        self._idle: list[_Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False
        self.spawned = 0  # workers started, for tests and measurements

    # -- pool ---------------------------------------------------------------

    def _acquire(self) -> _Worker:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError("the policy sandbox is closed")
                if self._idle:
                    return self._idle.pop()
                if self._count < self.size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            worker = _Worker(self.memory_limit)
            self.spawned += 1
            worker.ready(self.spawn_timeout)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        return worker

    def _release(self, worker: _Worker | None, *, healthy: bool) -> None:
        if worker is not None and healthy and worker.evaluations < RECYCLE_AFTER:
            with self._cond:
                if not self._closed:
                    self._idle.append(worker)
                    self._cond.notify()
                    return
        if worker is not None:
            worker.kill()
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.close()

    # -- work ---------------------------------------------------------------

    def inspect(self, module: Module) -> Inspection:
        """Compile the whole package and report its built-ins and rules; CompileError if bad."""
        worker = self._acquire()
        healthy = False
        try:
            answer = worker.call(
                {"op": "inspect", "source": module.source, "package": module.package},
                None,
                self.time_limit + self.input_seconds_per_mib * len(module.source) / MIB,
            )
            healthy = True
        except _Lost as lost:
            raise CompileError(f"the policy could not be compiled: {lost}") from None
        finally:
            self._release(worker, healthy=healthy)
        if not answer.get("ok"):
            raise CompileError(str(answer.get("error")), answer.get("line"), answer.get("column"))
        return Inspection(
            tuple(answer.get("builtins", ())),
            tuple(answer.get("unknown", ())),
            tuple(tuple(r) for r in answer.get("rules", ())),
        )

    def run(self, inputs: Sequence[bytes], tasks: Sequence[Task]) -> list[Outcome]:
        """Evaluate every task; `inputs` are JSON documents, each loaded once per worker.

        Tasks of one input run on one worker, in order; distinct inputs spread over
        the pool. Never raises for a policy's fault: that is an Outcome's error.
        """
        groups: dict[int, list[int]] = {}
        for position, task in enumerate(tasks):
            groups.setdefault(task.input, []).append(position)
        outcomes: list[Outcome | None] = [None] * len(tasks)
        batches = list(groups.items())
        lanes = min(self.size, len(batches))
        if lanes <= 1:
            self._run_lane(inputs, tasks, batches, outcomes)
        else:
            with concurrent.futures.ThreadPoolExecutor(lanes) as pool:
                futures = [
                    pool.submit(self._run_lane, inputs, tasks, batches[i::lanes], outcomes)
                    for i in range(lanes)
                ]
                for future in futures:
                    future.result()
        return [o if o is not None else Outcome(error="not evaluated") for o in outcomes]

    def _run_lane(
        self,
        inputs: Sequence[bytes],
        tasks: Sequence[Task],
        batches: Sequence[tuple[int, list[int]]],
        outcomes: list[Outcome | None],
    ) -> None:
        worker: _Worker | None = None
        try:
            for input_index, positions in batches:
                payload = inputs[input_index]
                pending = list(positions)
                while pending:
                    if worker is None:
                        worker = self._acquire()
                    try:
                        loaded = self._load(worker, payload)
                    except _Lost as lost:
                        self._release(worker, healthy=False)
                        worker = None
                        error = f"the input could not be loaded: {lost}"
                        for position in pending:
                            outcomes[position] = Outcome(error=error)
                        break
                    if loaded is not None:
                        for position in pending:
                            outcomes[position] = Outcome(error=loaded)
                        break
                    while pending:
                        position = pending[0]
                        try:
                            outcomes[position] = self._eval(worker, tasks[position].module)
                        except _Lost as lost:
                            outcomes[position] = Outcome(error=str(lost))
                            pending.pop(0)
                            self._release(worker, healthy=False)
                            worker = None
                            break  # a fresh worker loads the input again for the rest
                        pending.pop(0)
        finally:
            if worker is not None:
                self._release(worker, healthy=True)

    def _load(self, worker: _Worker, payload: bytes) -> str | None:
        limit = self.time_limit + self.input_seconds_per_mib * len(payload) / MIB
        answer = worker.call({"op": "input", "size": len(payload)}, payload, limit)
        if answer.get("ok"):
            return None
        return f"the input was refused: {answer.get('error')}"

    def _eval(self, worker: _Worker, module: Module) -> Outcome:
        request: dict[str, Any] = {"op": "eval", "key": module.key, "package": module.package}
        if module.key not in worker.known:
            request["source"] = module.source
        worker.evaluations += 1
        answer = worker.call(request, None, self.time_limit)
        if answer.get("missing"):
            # The worker evicted it from its cache: send the source this time.
            request["source"] = module.source
            answer = worker.call(request, None, self.time_limit)
        if not answer.get("ok"):
            worker.known.discard(module.key)
            return Outcome(error=str(answer.get("error")))
        worker.known.add(module.key)
        return Outcome(value=answer.get("value"))


_shared: Sandbox | None = None
_shared_pid = 0
_shared_lock = threading.Lock()


def shared() -> Sandbox:
    """The process's sandbox (a forked child gets its own: pipes do not survive a fork)."""
    global _shared, _shared_pid
    with _shared_lock:
        if _shared is None or _shared_pid != os.getpid():
            _shared = Sandbox()
            _shared_pid = os.getpid()
        return _shared


def use(sandbox: Sandbox | None) -> Sandbox | None:
    """Replace the process's sandbox (settings, tests); returns the one it replaces."""
    global _shared, _shared_pid
    with _shared_lock:
        previous, _shared, _shared_pid = _shared, sandbox, os.getpid()
        return previous


@atexit.register
def _close_shared() -> None:
    if _shared is not None and _shared_pid == os.getpid():
        _shared.close()


__all__ = [
    "CompileError",
    "Inspection",
    "Module",
    "Outcome",
    "Sandbox",
    "Task",
    "shared",
    "use",
]
