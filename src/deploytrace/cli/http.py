"""The CLI's network transport: one keep-alive connection to a deploytrace server.

Built on the standard library's `http.client` rather than httpx, for start-up time
alone: importing httpx (with httpcore, h11, h2, anyio and asyncio) costs a client-mode
command about ten times what Python itself takes to start, on every pipeline step
(bench/RESULTS.md, "CLI start-up"). Everything else that speaks HTTP (registries,
webhooks) keeps httpx. What httpx did for us here is done explicitly:

- TLS is verified against the system trust store; `SSL_CERT_FILE` / `SSL_CERT_DIR`
  name other CAs (OpenSSL reads them).
- `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` are honoured, parsed by the
  standard library's own functions (imported only when one of them is set).
- A connection the server may have closed while idle is not reused for a request
  that must not be sent twice.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import sys
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from deploytrace import errors
from deploytrace.cli.client import Response
from deploytrace.hosts import is_loopback

# uvicorn closes idle keep-alive connections after 5 s; reuse only well within that.
_REUSE_IDLE_SECONDS = 2.0
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "all_proxy")

_Dropped = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

_warned_plain_http = False


def warn_if_token_in_clear(base_url: str, token: str | None) -> None:
    """Once per process, on stderr: a token about to cross the network unencrypted."""
    global _warned_plain_http
    if _warned_plain_http or not token:
        return
    parts = urlsplit(base_url)
    if parts.scheme.lower() != "http" or is_loopback(parts.hostname or ""):
        return
    _warned_plain_http = True
    sys.stderr.write(
        f"warning: sending the API token to {parts.hostname} over plain HTTP, readable "
        "on the way; use an https:// server URL\n"
    )


class HttpTransport:
    """Talks to a deploytrace server over HTTP/1.1, reusing one connection."""

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._scheme = parts.scheme.lower()
        try:
            port = parts.port
        except ValueError:
            port = -1
        if self._scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise errors.InvalidInput(
                f"invalid server URL {base_url!r}: expected http(s)://host[:port][/path]"
            )
        self._host = parts.hostname
        self._port = port or (443 if self._scheme == "https" else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._headers = {"User-Agent": "deploytrace-cli"}
        if token:
            warn_if_token_in_clear(self.base_url, token)
            self._headers["Authorization"] = f"Bearer {token}"
        self._proxy = _proxy_for(self._scheme, self._host)
        self._conn: http.client.HTTPConnection | None = None
        self._last_used = 0.0

    def send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        target = self._prefix + path + (f"?{urlencode(query)}" if query else "")
        if self._proxy is not None and self._scheme == "http":
            target = f"http://{self._netloc()}{target}"  # a plain-HTTP proxy wants the URL
        all_headers = {**self._headers, **headers, "Host": self._netloc()}
        if self._conn is not None and (time.monotonic() - self._last_used > _REUSE_IDLE_SECONDS):
            self.close()
        reused = self._conn is not None
        try:
            return self._exchange(method, target, body, all_headers)
        except _Dropped:
            # A kept-alive connection the server had just closed: try again on a new
            # one, but only with a request that changes nothing.
            self.close()
            if not (reused and method in _IDEMPOTENT):
                raise self._dropped() from None
        try:
            return self._exchange(method, target, body, all_headers)
        except _Dropped:
            self.close()
            raise self._dropped() from None

    def _dropped(self) -> errors.Unavailable:
        return errors.Unavailable(f"server {self.base_url} closed the connection without an answer")

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> Response:
        try:
            conn = self._connection()
            conn.request(method, target, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except _Dropped:
            raise
        except TimeoutError:
            self.close()
            raise errors.Unavailable(f"server {self.base_url} did not answer in time") from None
        except ssl.SSLError as error:
            self.close()
            reason = getattr(error, "verify_message", None) or error.reason or str(error)
            raise errors.Unavailable(
                f"cannot reach server {self.base_url}: TLS: {reason}"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise errors.Unavailable(
                f"cannot reach server {self.base_url}: {_describe(error)}"
            ) from None
        self._last_used = time.monotonic()
        if r.will_close:
            self.close()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is not None:
            return self._conn
        conn: http.client.HTTPConnection
        host, port = self._host, self._port
        if self._proxy is not None:
            host, port = self._proxy
        if self._scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=self._timeout, context=ssl.create_default_context()
            )
            if self._proxy is not None:
                conn.set_tunnel(self._host, self._port)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self._timeout)
        self._conn = conn
        return conn

    def _netloc(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        default = 443 if self._scheme == "https" else 80
        return host if self._port == default else f"{host}:{self._port}"

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _proxy_for(scheme: str, host: str) -> tuple[str, int] | None:
    """The proxy the environment names for this server, if any."""
    if not any(os.environ.get(n) or os.environ.get(n.upper()) for n in _PROXY_VARIABLES):
        return None
    from urllib.request import getproxies_environment, proxy_bypass

    proxies: dict[str, Any] = getproxies_environment()
    url = proxies.get(scheme) or proxies.get("all")
    if not url or proxy_bypass(host):
        return None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "") or not parts.hostname:
        raise errors.InvalidInput(
            f"unsupported proxy {url!r}: the CLI speaks to http:// proxies only"
        )
    return parts.hostname, parts.port or 80
