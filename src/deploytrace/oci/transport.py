"""HTTP for registry calls: TLS trust, timeouts, bounded retries, clear failures.

Every network failure leaves this module as `Unavailable` with one sentence
naming the host, so callers never see an httpx or ssl traceback.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import os
import socket
import ssl
import time
from dataclasses import dataclass
from types import TracebackType

import httpx

from deploytrace.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF_SECONDS = 0.2
MAX_RETRY_AFTER_SECONDS = 5.0
# Registries cap manifests at 4 MiB; a longer answer is not a manifest (or
# token), and reading it whole would let a server exhaust our memory.
MAX_BODY_BYTES = 4 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})
USER_AGENT = "deploytrace"


@dataclass(frozen=True)
class Reply:
    """A fully read HTTP answer."""

    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


class ConnectionDropped(Unavailable):
    """The server closed the connection without an HTTP answer.

    That is what a TLS-only port does with a plain-HTTP request, so callers
    probing a loopback registry take it as "speak HTTPS here".
    """


def host_of(url: httpx.URL) -> str:
    """`host[:port]` as a user would write it, for messages."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port}" if url.port else host


class Transport:
    """One httpx client per resolution; closes with the `with` block."""

    def __init__(self, *, ca_file: str | None, timeout: float) -> None:
        if not timeout > 0:
            raise InvalidInput(f"the registry timeout must be positive, got {timeout}")
        self._timeout = timeout
        self._client = httpx.Client(
            verify=_ssl_context(ca_file),
            timeout=httpx.Timeout(timeout),
            # For manifests; httpx drops Authorization on cross-origin redirects.
            # Token requests carry secrets in their body too and judge their own.
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
        retry_dropped: bool = True,
        label: str = "registry",
        follow_redirects: bool = True,
    ) -> Reply:
        """Send with up to ATTEMPTS tries on connection errors and 429/502/503/504.

        `retry_dropped=False` fails fast with `ConnectionDropped` instead of
        retrying a connection the server closed without answering. `label`
        names the server in messages ("registry", "token service").
        `follow_redirects=False` returns a redirect as it is, for the caller to judge.
        """
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            try:
                reply = self._send(method, url, headers, data, follow_redirects)
            except httpx.RequestError as exc:
                message = _describe(f"{label} {host_of(url)}", exc, self._timeout)
                if not retry_dropped and _is_dropped(exc):
                    raise ConnectionDropped(message) from None
                if last or _is_permanent(exc):
                    raise Unavailable(message) from None
                log.debug("retrying %s %s after %s", method, url, type(exc).__name__)
                time.sleep(BACKOFF_SECONDS * attempt)
                continue
            if reply.status not in RETRY_STATUSES or last:
                return reply
            log.debug("retrying %s %s after HTTP %s", method, url, reply.status)
            time.sleep(_retry_delay(reply, attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: dict[str, str] | None,
        data: dict[str, str] | None,
        follow_redirects: bool,
    ) -> Reply:
        with self._client.stream(
            method, url, headers=headers, data=data, follow_redirects=follow_redirects
        ) as response:
            return Reply(
                response.status_code, response.headers, _read_limited(response), response.url
            )


def _ssl_context(ca_file: str | None) -> ssl.SSLContext:
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    return _cached_ssl_context(ca_file, env)


@functools.lru_cache(maxsize=8)
def _cached_ssl_context(ca_file: str | None, env: tuple[str | None, str | None]) -> ssl.SSLContext:
    # Loading a CA bundle costs ~25 ms, more than a loopback resolution; the
    # environment is part of the key so a changed SSL_CERT_FILE is honoured.
    # httpx's default context honours SSL_CERT_FILE / SSL_CERT_DIR; a custom CA
    # is added on top of it, like Docker's certs.d, rather than replacing it.
    context = httpx.create_ssl_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except ssl.SSLError:
            raise InvalidInput(
                f"cannot use CA file {ca_file}: it holds no PEM certificate"
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InvalidInput(f"cannot use CA file {ca_file}: {reason}") from None
    return context


def _read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise InvalidInput(
                f"{host_of(response.url)} sent more than {MAX_BODY_BYTES // 1024 // 1024} MiB "
                f"for {response.url.path}; that is not a manifest"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_delay(reply: Reply, attempt: int) -> float:
    header = reply.headers.get("retry-after", "")
    if header.isdigit():
        return min(float(header), MAX_RETRY_AFTER_SECONDS)
    parsed = email.utils.parsedate_to_datetime(header) if header else None
    if parsed is not None and parsed.tzinfo is not None:
        return max(0.0, min(parsed.timestamp() - time.time(), MAX_RETRY_AFTER_SECONDS))
    return BACKOFF_SECONDS * attempt


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_dropped(exc: httpx.RequestError) -> bool:
    return isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)


def _is_permanent(exc: httpx.RequestError) -> bool:
    """A bad certificate, an unknown host name or a broken body won't get better."""
    if not isinstance(exc, httpx.TransportError):  # decoding errors, redirect loops
        return True
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLError):
            return True
        if isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_NONAME:
            return True
    return False


def _describe(server: str, exc: httpx.RequestError, timeout: float) -> str:
    """One sentence naming `server` ("registry host:port") and the root cause."""
    causes = _causes(exc)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"TLS certificate of {server} could not be verified "
                f"({cause.verify_message}); pass its CA certificate (--registry-ca-file) "
                "or set SSL_CERT_FILE"
            )
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {server} failed ({cause.reason or cause})"
        if isinstance(cause, socket.gaierror):
            label, _, host = server.partition(" ")
            return f"cannot resolve {label} host {host} ({cause.strerror})"
    if isinstance(exc, httpx.TimeoutException):
        return f"{server} did not answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {server} ({_os_reason(causes, exc)})"
    return f"connection to {server} failed ({type(exc).__name__}: {exc})"


def _os_reason(causes: list[BaseException], exc: BaseException) -> str:
    for cause in causes:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return str(exc) or type(exc).__name__
