"""`POST /ui/sign-in`: a one-time code, given in the link `deploytrace ui` prints, traded
for the short-lived token the dashboard then sends like any other.

The code travels in the link's fragment (`#/sign-in?code=…`), which browsers never
send to a server, so it reaches no access log or proxy; the dashboard posts it here
once, and a code works once and only for a few minutes. The token itself never
appears in a URL. The route lies outside /v1 on purpose: it is how a caller without a
token gets one, and exists only in the app `deploytrace ui` serves.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time

from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.errors import Unauthenticated

PATH = "/ui/sign-in"
CODE_LIFETIME_SECONDS = 300.0


class SignInCodes:
    """One-time codes, each standing for one token until it is redeemed or expires.

    Held in memory only: they die with the process that printed them.
    """

    def __init__(self, lifetime: float = CODE_LIFETIME_SECONDS) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        # sha256(code) -> (token, token expiry, monotonic deadline of the code)
        self._codes: dict[str, tuple[str, dt.datetime | None, float]] = {}

    def issue(self, token: str, token_expires_at: dt.datetime | None) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._prune()
            self._codes[_key(code)] = (token, token_expires_at, time.monotonic() + self.lifetime)
        return code

    def redeem(self, code: str) -> tuple[str, dt.datetime | None] | None:
        """The token a live code stands for (the code is spent), or None."""
        with self._lock:
            self._prune()
            entry = self._codes.pop(_key(code), None)
        if entry is None:
            return None
        token, expires_at, _ = entry
        return token, expires_at

    def _prune(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, _, deadline) in self._codes.items() if deadline <= now]:
            del self._codes[key]


def _key(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=128)


class SessionOut(BaseModel):
    token: str
    expires_at: dt.datetime | None


def mount(app: FastAPI, codes: SignInCodes) -> None:
    """Add `POST /ui/sign-in` to `app`, redeeming `codes`."""

    @app.post(PATH, include_in_schema=False)
    def sign_in(body: CodeIn, response: Response) -> SessionOut:
        found = codes.redeem(body.code)
        if found is None:
            raise Unauthenticated(
                "this sign-in link was already used or has expired: "
                "run `deploytrace ui` again for a new one"
            )
        response.headers["Cache-Control"] = "no-store"
        token, expires_at = found
        return SessionOut(token=token, expires_at=expires_at)
