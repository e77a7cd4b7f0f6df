"""A webhook receiver for the tests and the benchmark, run as its own process.

    python tests/events/receiver.py --port P --log FILE [--fail-first N] [--delay S]
        [--delay-first S] [--fail-match TEXT]

Answers POST / with 204, or 503 for the first N requests of each webhook-id
(`--fail-first`), or 500 forever for events whose body contains TEXT
(`--fail-match`); waits S seconds before answering (`--delay`, or only on the first
request of each webhook-id: `--delay-first`). Every request is one JSON line in FILE:
`{"id", "start", "end", "status", "headers", "body"}` (times from time.time()), written
when the answer is sent. GET /health answers 200 once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import time
from typing import Any


def app_for(args: argparse.Namespace) -> Any:
    seen: collections.Counter[str] = collections.Counter()
    log = open(args.log, "a", buffering=1)  # noqa: SIM115 (for the process's lifetime)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        start = time.time()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["method"] != "POST":
            await _answer(send, 200)
            return
        msg_id = headers.get("webhook-id", "")
        seen[msg_id] += 1
        attempt = seen[msg_id]
        delay = args.delay or (args.delay_first if attempt == 1 else 0.0)
        if delay:
            await asyncio.sleep(delay)
        status = 204
        if attempt <= args.fail_first:
            status = 503
        elif args.fail_match and args.fail_match.encode() in body:
            status = 500
        await _answer(send, status)
        kept = {k: v for k, v in headers.items() if k.startswith("webhook-") or k == "content-type"}
        line = {
            "id": msg_id,
            "start": start,
            "end": time.time(),
            "status": status,
            "headers": kept,
            "body": body.decode(),
        }
        log.write(json.dumps(line) + "\n")

    return app


async def _answer(send: Any, status: int) -> None:
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--fail-match", default=None)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--delay-first", type=float, default=0.0)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(
        app_for(args),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
