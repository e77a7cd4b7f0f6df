"""Fetch one manifest from a registry (distribution API v2), authenticating on demand."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from deploytrace.errors import InvalidInput, NotFound, Unauthenticated, Unavailable
from deploytrace.hosts import is_loopback
from deploytrace.oci.auth import Target, authorization, denied, parse_challenges, pick
from deploytrace.oci.credentials import Auth
from deploytrace.oci.manifest import ACCEPT
from deploytrace.oci.reference import DOCKER_HUB, Reference
from deploytrace.oci.transport import ConnectionDropped, Reply, Transport

log = logging.getLogger(__name__)

# Docker Hub's API does not live on its canonical name.
DOCKER_HUB_API = "registry-1.docker.io"


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str | None
    digest: str | None  # the Docker-Content-Digest header, if sent


class RegistryClient:
    """Talks to one registry for one reference; credentials are looked up lazily.

    Lazily, because a public image needs none, and a credential helper can be
    slow or interactive: it only runs once the registry actually asks.
    """

    def __init__(
        self, registry: str, transport: Transport, credentials: Callable[[], Auth | None]
    ) -> None:
        self._registry = registry
        self._host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        # Docker treats loopback registries as insecure: plain HTTP, unless the
        # port turns out to speak TLS. Everything else is HTTPS only.
        self._scheme = "http" if is_loopback(self._host) else "https"
        self._scheme_settled = self._scheme == "https"
        self._transport = transport
        self._credentials = credentials
        self._auth: Auth | None = None
        self._authorization: str | None = None

    def fetch_manifest(self, reference: Reference) -> Fetched:
        target = Target(self._registry, reference.repository)
        path = f"/v2/{reference.repository}/manifests/{reference.identifier}"
        reply = self._get(path)
        if reply.status == 401:
            reply = self._authenticate(reply, path, target)
        return self._accept(reply, reference, target)

    def _authenticate(self, reply: Reply, path: str, target: Target) -> Reply:
        headers = reply.headers.get_list("www-authenticate")
        challenge = pick(parse_challenges(headers))
        if challenge is None:
            raise Unauthenticated(
                f"registry {self._registry} asks for an authentication scheme deploytrace "
                f"does not support ({', '.join(headers) or 'no WWW-Authenticate header'})"
            )
        self._auth = self._credentials()
        header = authorization(challenge, self._auth, target, self._transport)
        if header is None:  # Basic challenge, nothing to answer it with
            raise denied(target, reply.status, None)
        self._authorization = header
        retry = self._get(path)
        if retry.status in (401, 403):
            raise denied(target, retry.status, self._auth)
        return retry

    def _accept(self, reply: Reply, reference: Reference, target: Target) -> Fetched:
        if reply.status == 200:
            return Fetched(
                body=reply.body,
                content_type=reply.headers.get("content-type"),
                digest=reply.headers.get("docker-content-digest"),
            )
        if reply.status in (401, 403):
            raise denied(target, reply.status, self._auth)
        codes, message = _registry_errors(reply.body)
        if reply.status == 404:
            raise _not_found(reference, codes)
        if 400 <= reply.status < 500:
            raise InvalidInput(
                f"registry {self._registry} rejected the request for {reference} "
                f"(HTTP {reply.status}{': ' + message if message else ''})"
            )
        raise Unavailable(f"registry {self._registry} answered HTTP {reply.status} for {reference}")

    def _get(self, path: str) -> Reply:
        if not self._scheme_settled:
            return self._probe(path)
        return self._transport.request("GET", self._url(path), headers=self._headers())

    def _probe(self, path: str) -> Reply:
        """First request to a loopback registry: plain HTTP, switching to HTTPS if refused."""
        self._scheme_settled = True
        try:
            reply = self._transport.request(
                "GET", self._url(path), headers=self._headers(), retry_dropped=False
            )
        except ConnectionDropped:
            reply = None
        # Go's TLS server answers a plain request with 400 "Client sent an HTTP
        # request to an HTTPS server."; other TLS servers just hang up.
        if reply is not None and not (reply.status == 400 and b"https" in reply.body.lower()):
            return reply
        log.debug("registry %s speaks TLS; switching to https", self._registry)
        self._scheme = "https"
        return self._transport.request("GET", self._url(path), headers=self._headers())

    def _url(self, path: str) -> httpx.URL:
        return httpx.URL(f"{self._scheme}://{self._host}{path}")

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": ACCEPT}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization
        return headers


def _registry_errors(body: bytes) -> tuple[set[str], str]:
    """The `errors[].code` set and first message of a distribution error body."""
    try:
        document = json.loads(body)
    except ValueError:
        return set(), ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return set(), ""
    entries = [error for error in errors if isinstance(error, dict)]
    codes = {str(error.get("code")) for error in entries}
    message = str(entries[0].get("message", "")) if entries else ""
    return codes, message[:200]


def _not_found(reference: Reference, codes: set[str]) -> NotFound:
    where = f"registry {reference.registry}"
    if "NAME_UNKNOWN" in codes:
        return NotFound(f"repository {reference.repository} not found on {where}")
    what = f"digest {reference.digest}" if reference.digest else f"tag {reference.tag}"
    return NotFound(f"{what} not found in repository {reference.repository} on {where}")
