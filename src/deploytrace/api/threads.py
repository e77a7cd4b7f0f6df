"""A thread pool for the hot endpoint (`POST /v1/deployments`).

Starlette's `run_in_threadpool` goes through anyio: a checkpoint (one more trip
around the event loop), a capacity limiter, a cancel scope and a `queue.Queue`
whose Python-level condition variable showed as the largest self time of a
heartbeat's profile. `loop.run_in_executor` on a `ThreadPoolExecutor` hands the
call over through a C `SimpleQueue` instead. The caller's context variables go
along (the read routing of storage/replica.py lives in one).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# As many as anyio's default limiter lets run at once; threads start on demand.
_POOL = ThreadPoolExecutor(max_workers=40, thread_name_prefix="deploytrace-api")


async def run(func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`func(*args, **kwargs)` in the pool, with this task's context variables."""
    context = contextvars.copy_context()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, lambda: context.run(func, *args, **kwargs))
