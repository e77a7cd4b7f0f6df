"""One delivery attempt over HTTP: POST, within a deadline, success on 2xx.

Redirects are not followed (a receiver must answer at the URL it registered; a
redirect could otherwise lead the server somewhere the URL check never saw). The
answer's body is read (so the connection is kept for the next attempt) up to 64 KiB
and dropped.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from deploytrace import __version__

USER_AGENT = f"deploytrace-webhooks/{__version__}"
_MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    seconds: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def client(concurrency: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False)


async def post(
    http: httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes, timeout: float
) -> Outcome:
    """Send once; the whole exchange (connect to last header byte) gets `timeout` seconds."""
    started = time.monotonic()
    sent = {**headers, "user-agent": USER_AGENT}
    try:
        async with asyncio.timeout(timeout):
            request = http.build_request("POST", url, headers=sent, content=body, timeout=timeout)
            response = await http.send(request, stream=True)
            try:
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read > _MAX_ANSWER:
                        break  # closing the unread rest drops the connection: fine
            finally:
                await response.aclose()
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout:g} s", time.monotonic() - started)
    except httpx.HTTPError as error:
        return Outcome(None, _describe(error), time.monotonic() - started)
    return _answered(response.status_code, time.monotonic() - started)


def post_sync(url: str, headers: dict[str, str], body: bytes, timeout: float) -> Outcome:
    """The same attempt from synchronous code (`webhook test` in an API request)."""
    started = time.monotonic()
    sent = {**headers, "user-agent": USER_AGENT}
    try:
        with (
            httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as http,
            http.stream("POST", url, headers=sent, content=body) as response,
        ):
            status = response.status_code
    except httpx.TimeoutException:
        return Outcome(None, f"no answer within {timeout:g} s", time.monotonic() - started)
    except httpx.HTTPError as error:
        return Outcome(None, _describe(error), time.monotonic() - started)
    return _answered(status, time.monotonic() - started)


def _answered(status: int, seconds: float) -> Outcome:
    if 200 <= status < 300:
        return Outcome(status, None, seconds)
    return Outcome(status, f"HTTP {status}", seconds)


def _describe(error: httpx.HTTPError) -> str:
    kind = type(error).__name__
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{kind}: {text}"[:500] if text else kind
