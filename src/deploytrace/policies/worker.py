"""A sandbox worker: one process that compiles and evaluates Rego for its parent.

Started by `sandbox` as `python -m deploytrace.policies.worker MEMORY_LIMIT`, it
speaks length-prefixed JSON frames on its stdin/stdout and nothing else: the
engine's own prints (`print()` in a policy) go to /dev/null. It runs with a
memory limit, so a policy that allocates without bound kills this process
(std::bad_alloc aborts it), never its parent; the parent kills it on a
timeout. It exits when its parent goes away.

Requests and answers (one answer per request, in order):
- `{"op": "ping"}` -> `{"ok", "engine"}` once the engine is imported
- `{"op": "inspect", "source", "package"}` -> `{"ok", "builtins", "rules"}` or an error
- `{"op": "input", "size": N}` followed by a frame of N bytes of JSON -> `{"ok"}`
- `{"op": "eval", "key", "package", "source"?}` -> `{"ok", "value"}`, or
  `{"ok": false, "missing": true}` when `key` is not compiled here and no source came
Errors: `{"ok": false, "error": message, "line"?, "column"?}`.
"""

from __future__ import annotations

import collections
import json
import os
import resource
import struct
import sys
import threading
import time
from typing import Any

HEADER = struct.Struct(">I")
CACHE_SIZE = 256


def read_frame(fd: int) -> bytes | None:
    header = _read_exactly(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    return _read_exactly(fd, size)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def write_frame(fd: int, payload: bytes) -> None:
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _orphan_watch(parent: int) -> None:
    """Exit once the parent is gone, even in the middle of an endless evaluation."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _limit_memory(extra: int) -> None:
    """Allow `extra` bytes of data beyond what the engine holds once loaded.

    rego-cpp's allocator (snmalloc) reserves 256 GiB of address space when it
    loads, so RLIMIT_AS cannot be used at all and RLIMIT_DATA only after that
    reservation: what it maps beyond it counts, and an allocation past the
    limit throws std::bad_alloc, which aborts this process.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        baseline = int(fields["VmData"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return  # not Linux: the time limit still stops a runaway policy
    limit = baseline + extra
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


class _Server:
    """The worker's state: compiled modules (LRU by key) and the current input."""

    def __init__(self, proto_in: int) -> None:
        from deploytrace.policies import engine

        self.engine = engine
        self.proto_in = proto_in
        self.compiled: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self.runner = engine.Runner()
        self.has_input = False

    def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request.get("op")
        if op == "ping":
            return {"ok": True, "engine": self.engine.version()}
        if op == "inspect":
            found = self.engine.inspect(request["source"], request["package"])
            return {
                "ok": True,
                "builtins": found.builtins,
                "unknown": found.unknown,
                "rules": found.rules,
            }
        if op == "input":
            payload = _read_exactly(self.proto_in, int(request["size"]))
            if payload is None:
                return None
            # A refused input must not leave the previous one in place.
            self.runner, self.has_input = self.engine.Runner(), False
            self.runner.set_input(json.loads(payload))
            self.has_input = True
            return {"ok": True}
        if op == "eval":
            return self.evaluate(request)
        return {"ok": False, "error": f"unknown request {op!r}"}

    def evaluate(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.has_input:
            return {"ok": False, "error": "no input was set"}
        key = request["key"]
        module = self.compiled.get(key)
        if module is None:
            if request.get("source") is None:
                return {"ok": False, "missing": True}
            module = self.engine.compile(request["source"], request["package"])
            self.compiled[key] = module
            while len(self.compiled) > CACHE_SIZE:
                self.compiled.popitem(last=False)
        self.compiled.move_to_end(key)
        return {"ok": True, "value": self.runner.query(module)}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    memory_limit = int(args[0]) if args else 0
    # The protocol keeps the original pipes; fds 0-2 go to /dev/null so that nothing
    # the engine writes can corrupt a frame or reach the user's terminal.
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    threading.Thread(target=_orphan_watch, args=(os.getppid(),), daemon=True).start()
    server = _Server(proto_in)
    if memory_limit:
        _limit_memory(memory_limit)
    engine_error = server.engine.EngineError
    while True:
        frame = read_frame(proto_in)
        if frame is None:
            return
        try:
            answer = server.handle(json.loads(frame))
        except engine_error as error:
            answer = {
                "ok": False,
                "error": error.message,
                "line": error.line,
                "column": error.column,
            }
        except (RecursionError, ValueError, TypeError, KeyError) as error:
            answer = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
        if answer is None:
            return
        write_frame(proto_out, json.dumps(answer).encode())


if __name__ == "__main__":
    main()
