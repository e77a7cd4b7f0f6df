"""The background work of a server process: webhook delivery and the stale check.

Started by the application's lifespan when it runs as `deploytrace server` (never in
embedded mode). Every replica runs both; the database decides who does what
(delivery leases, the stale check's advisory lock).

Delivery is a pipeline: new audit entries are fanned out into deliveries; up to
`webhook_concurrency` attempts are in flight on one `httpx.AsyncClient`; whenever
slots are free, the next due deliveries are claimed; finished attempts are settled in
batches. Database calls run in threads, so the
event loop keeps serving requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from deploytrace.errors import DeploytraceError
from deploytrace.events import sender
from deploytrace.services import delivery, events
from deploytrace.services import webhooks as webhook_service
from deploytrace.settings import Settings
from deploytrace.storage.db import Database

log = logging.getLogger("deploytrace.events")

_BATCH = 200


class Dispatcher:
    def __init__(
        self, db: Database, settings: Settings, observe: Callable[[delivery.Settled], None]
    ) -> None:
        self.db = db
        self.settings = settings
        self.observe = observe
        self._inflight: set[asyncio.Task[None]] = set()
        self._done: list[delivery.Done] = []
        self._wake = asyncio.Event()
        self._signers: delivery.Signers | None = None
        self._fanned = True
        self._fanned_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        s = self.settings
        async with sender.client(s.webhook_concurrency) as http:
            while not stop.is_set():
                self._wake.clear()  # set again by any attempt that ends from here on
                wanted = min(s.webhook_concurrency - len(self._inflight), _BATCH)
                # Settling the finished attempts and claiming the next run side by side
                # (two threads, two connections): neither waits for the other's round trips.
                steps = [self._guard(self._settle)]
                if wanted > 0:
                    steps.append(self._guard(functools.partial(self._claim, wanted)))
                settled, *rest = await asyncio.gather(*steps)
                claimed: list[delivery.Job] = (rest[0] if rest else None) or []
                for job in claimed:
                    task = asyncio.create_task(self._attempt(http, job))
                    self._inflight.add(task)
                    task.add_done_callback(self._finished)
                # Settled deliveries may have let the next event of their queue through.
                if settled or len(claimed) == wanted > 0:
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(s.webhook_poll):
                        await self._wake.wait()
            # Shutting down: let attempts in flight end (they are bounded by the timeout)
            # and record them; anything left is claimed again when its lease ends.
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=s.webhook_timeout + 1)
            await self._guard(self._settle)

    async def _guard(self, step: Callable[[], Any]) -> Any:
        try:
            return await step()
        except DeploytraceError as error:  # the database is down: try again later
            log.warning("webhook delivery: %s", error)
        except Exception:
            log.exception("webhook delivery failed")
        await asyncio.sleep(self.settings.webhook_poll)
        return None

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def _claim(self, wanted: int) -> list[delivery.Job]:
        if self._signers is None:
            self._signers = delivery.Signers(
                functools.partial(webhook_service.signing_key, self.settings)
            )
        return await asyncio.to_thread(self._fan_out_and_claim, wanted)

    def _fan_out_and_claim(self, wanted: int) -> list[delivery.Job]:
        # New audit entries are looked for when the last look found some, else once
        # per poll interval: a busy loop does not query for them on every turn.
        now = time.monotonic()
        if self._fanned or now - self._fanned_at >= self.settings.webhook_poll:
            self._fanned = delivery.fan_out(self.db) > 0
            self._fanned_at = now
        assert self._signers is not None
        return delivery.claim(self.db, self.settings, self._signers, wanted)

    async def _attempt(self, http: Any, job: delivery.Job) -> None:
        at = dt.datetime.now(dt.UTC)
        if job.problem is not None:
            outcome = sender.Outcome(None, job.problem, 0.0)
        else:
            outcome = await sender.post(
                http, job.claimed.url, job.headers(at), job.body, self.settings.webhook_timeout
            )
        self._done.append(delivery.Done(job, outcome, at))

    async def _settle(self) -> bool:
        if not self._done:
            return False
        done, self._done = self._done, []
        try:
            settled = await asyncio.to_thread(delivery.settle, self.db, self.settings, done)
        except BaseException:
            self._done[:0] = done  # keep them for the next try (their leases still hold)
            raise
        self.observe(settled)
        return True


async def stale_checks(db: Database, settings: Settings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            count = await asyncio.to_thread(events.announce_stale, db)
            if count:
                log.info("announced %d stale deployment records", count)
        except DeploytraceError as error:
            log.warning("stale check: %s", error)
        except Exception:
            log.exception("stale check failed")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settings.stale_check):
                await stop.wait()


@contextlib.asynccontextmanager
async def running(
    db: Database, settings: Settings, observe: Callable[[delivery.Settled], None]
) -> AsyncIterator[None]:
    """Run the background work for as long as the context lasts."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(stale_checks(db, settings, stop))]
    if settings.webhook_delivery:
        tasks.append(asyncio.create_task(Dispatcher(db, settings, observe).run(stop)))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=settings.webhook_timeout + 5)
        for task in tasks:
            task.cancel()
