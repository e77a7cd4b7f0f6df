"""Answer a registry's `WWW-Authenticate` challenge: Basic, or a Bearer token.

The Bearer flow is the distribution token spec (what Docker Hub, GHCR, Harbor
and friends speak): ask the realm for a pull token for one repository,
presenting Basic credentials (or an OAuth2 refresh token) when we have them.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import httpx

from deploytrace.errors import Unauthenticated, Unavailable
from deploytrace.hosts import is_loopback
from deploytrace.oci.credentials import Auth
from deploytrace.oci.transport import Reply, Transport, host_of

# `client_id` is mandatory in the OAuth2 refresh-token request; any name works.
CLIENT_ID = "deploytrace"

_TOKEN68 = r"[A-Za-z0-9._~+/-]+=*"
_PARAM_RE = re.compile(
    r'[\s,]*([A-Za-z0-9!#$%&\'*+.^_`|~-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*)', re.ASCII
)
_SCHEME_RE = re.compile(rf"[\s,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s+(?:{_TOKEN68})(?=\s*(?:,|$)))?")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "basic", "bearer", ...
    params: dict[str, str]


@dataclass(frozen=True)
class Target:
    """What we are authenticating for, to phrase errors."""

    registry: str
    repository: str


def parse_challenges(headers: list[str]) -> list[Challenge]:
    """Parse `WWW-Authenticate` values (RFC 9110 §11.6.1), several per header allowed."""
    challenges: list[Challenge] = []
    for header in headers:
        challenges.extend(_parse_one(header))
    return challenges


def _parse_one(header: str) -> list[Challenge]:
    found: list[tuple[str, dict[str, str]]] = []
    pos = 0
    while pos < len(header):
        param = _PARAM_RE.match(header, pos)
        if param and found:
            found[-1][1][param[1].lower()] = _unquote(param[2])
            pos = param.end()
            continue
        scheme = _SCHEME_RE.match(header, pos)
        if not scheme or scheme.end() == pos:
            break  # garbage: keep what parsed so far
        found.append((scheme[1].lower(), {}))
        pos = scheme.end()
    return [Challenge(scheme, params) for scheme, params in found]


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def pick(challenges: list[Challenge]) -> Challenge | None:
    """Bearer if offered (it scopes access to one repository), else Basic."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def authorization(
    challenge: Challenge, auth: Auth | None, target: Target, transport: Transport
) -> str | None:
    """The `Authorization` header to retry with, or None if we have nothing to offer."""
    if challenge.scheme == "basic":
        return basic_header(auth) if auth is not None and auth.has_basic else None
    token = _fetch_token(challenge, auth, target, transport)
    return f"Bearer {token}"


def basic_header(auth: Auth) -> str:
    pair = f"{auth.username}:{auth.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def denied(target: Target, status: int, auth: Auth | None) -> Unauthenticated:
    """The one message for "the registry said no", with or without credentials."""
    if auth is None:
        return Unauthenticated(
            f"registry {target.registry} denied anonymous access to repository "
            f"{target.repository} ({status}); no credentials for it were given "
            "or found in the Docker config"
        )
    return Unauthenticated(
        f"registry {target.registry} refused the credentials for repository "
        f"{target.repository} ({status}); they came from {auth.source}"
    )


def _fetch_token(
    challenge: Challenge, auth: Auth | None, target: Target, transport: Transport
) -> str:
    realm = _realm_url(challenge, target)
    if auth is not None and realm.scheme != "https" and not is_loopback(realm.host):
        raise Unauthenticated(
            f"registry {target.registry} wants the credentials sent to {realm} without TLS; "
            "refusing to send them"
        )
    params = {"scope": f"repository:{target.repository}:pull"}
    if "service" in challenge.params:
        params["service"] = challenge.params["service"]
    if auth is not None and auth.identity_token:
        form = {
            **params,
            "grant_type": "refresh_token",
            "refresh_token": auth.identity_token,
            "client_id": CLIENT_ID,
        }
        reply = _token_request(transport, "POST", realm, target, data=form)
    else:
        headers = {"Authorization": basic_header(auth)} if auth and auth.has_basic else None
        url = realm.copy_merge_params(params)
        reply = _token_request(transport, "GET", url, target, headers=headers)
    if reply.status in (401, 403):
        raise denied(target, reply.status, auth)
    if reply.status != 200:
        raise Unavailable(
            f"token service {host_of(realm)} of registry {target.registry} "
            f"answered HTTP {reply.status}"
        )
    return _token_from(reply.body, realm)


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_TOKEN_REDIRECTS = 3


def _token_request(
    transport: Transport,
    method: str,
    url: httpx.URL,
    target: Target,
    *,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> Reply:
    """A token request, following only redirects to the same origin over HTTPS.

    It carries a password (Basic) or a refresh token (in the POSTed form, which a
    307 or 308 makes the client send again to wherever the server names): a
    redirect elsewhere, or to plain HTTP, is refused instead of followed.
    """
    for _ in range(MAX_TOKEN_REDIRECTS + 1):
        reply = transport.request(
            method, url, headers=headers, data=data, label="token service", follow_redirects=False
        )
        if reply.status not in _REDIRECTS:
            return reply
        location = reply.headers.get("location", "")
        try:
            nxt = url.join(location)
        except httpx.InvalidURL:
            nxt = None
        if nxt is None or not location or not _same_origin_https(url, nxt):
            shown = str(nxt.copy_with(query=None)) if nxt is not None else repr(location)
            raise Unavailable(
                f"token service {host_of(url)} of registry {target.registry} redirected to "
                f"{shown}; token requests follow only redirects to the same host over HTTPS"
            )
        url = nxt
    raise Unavailable(
        f"token service {host_of(url)} of registry {target.registry} redirected more than "
        f"{MAX_TOKEN_REDIRECTS} times"
    )


def _same_origin_https(origin: httpx.URL, to: httpx.URL) -> bool:
    return (
        origin.scheme == to.scheme == "https"
        and origin.host == to.host
        and (origin.port or 443) == (to.port or 443)
    )


def _realm_url(challenge: Challenge, target: Target) -> httpx.URL:
    realm = challenge.params.get("realm", "")
    try:
        url = httpx.URL(realm)
    except httpx.InvalidURL:
        url = httpx.URL()
    if url.scheme not in ("http", "https") or not url.host:
        raise Unavailable(
            f"registry {target.registry} sent a Bearer challenge with no usable realm ({realm!r})"
        )
    return url


def _token_from(body: bytes, realm: httpx.URL) -> str:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    # The spec says `token`; OAuth2-style servers answer `access_token`.
    token = (
        (answer.get("token") or answer.get("access_token")) if isinstance(answer, dict) else None
    )
    if not isinstance(token, str) or not token:
        raise Unavailable(f"token service {host_of(realm)} answered without a token")
    return token
