"""Parse and normalize OCI references the way Docker and go-containerregistry do.

The grammar is distribution's `reference` package: `[domain/]path[:tag][@digest]`.
Normalization matters because the repository name ends up on the deployment
record: `nginx`, `docker.io/nginx` and `index.docker.io/library/nginx` must all
be recorded as the same artifact name.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from deploytrace.errors import InvalidInput

DOCKER_HUB = "index.docker.io"
# Every spelling of Docker Hub that users and tools write; all mean one registry.
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
DEFAULT_TAG = "latest"
OCI_PREFIX = "oci://"
MAX_NAME_LENGTH = 255

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(
    rf"(?P<host>{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?",
    re.ASCII,
)
_PATH_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*", re.ASCII)
_TAG_RE = re.compile(r"\w[\w.-]{0,127}", re.ASCII)
# Only the algorithms deploytrace stores (SPEC §2); anything else cannot be recorded.
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}", re.ASCII)


@dataclass(frozen=True)
class Reference:
    """A parsed, fully qualified OCI reference."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        """The fully qualified repository, e.g. `index.docker.io/library/nginx`."""
        return f"{self.registry}/{self.repository}"

    @property
    def identifier(self) -> str:
        """What goes after `/manifests/`: the digest wins over the tag, as in Docker."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse `text`; raise `InvalidInput` with the reason when it is malformed."""
        if not isinstance(text, str):
            raise InvalidInput(f"an OCI reference must be a string, got {type(text).__name__}")
        return _parse(text)


def _parse(original: str) -> Reference:
    text = original.strip()
    if text[: len(OCI_PREFIX)].lower() == OCI_PREFIX:
        text = text[len(OCI_PREFIX) :]
    if not text:
        raise _invalid(original, "it is empty")
    if "://" in text:
        raise _invalid(original, "only the oci:// scheme is allowed")
    remainder, digest = _split_digest(original, text)
    remainder, tag = _split_tag(original, remainder)
    registry, repository = _split_domain(original, remainder)
    _check_repository(original, repository)
    if registry == DOCKER_HUB and "/" not in repository:
        # Docker Hub's official images live under `library/`.
        repository = f"library/{repository}"
    if len(registry) + 1 + len(repository) > MAX_NAME_LENGTH:
        raise _invalid(original, f"the name is longer than {MAX_NAME_LENGTH} characters")
    if tag is None and digest is None:
        tag = DEFAULT_TAG
    return Reference(registry=registry, repository=repository, tag=tag, digest=digest)


def _split_digest(original: str, text: str) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    remainder, _, digest = text.partition("@")
    digest = digest.lower()  # SPEC §2 stores digests lower case; hex is case-insensitive
    if not _DIGEST_RE.fullmatch(digest):
        raise _invalid(original, "the digest must be sha256:<64 hex> or sha512:<128 hex>")
    return remainder, digest


def _split_tag(original: str, text: str) -> tuple[str, str | None]:
    # A colon after the last slash is a tag; one before it belongs to a port.
    colon = text.rfind(":")
    if colon <= text.rfind("/"):
        return text, None
    tag = text[colon + 1 :]
    if not _TAG_RE.fullmatch(tag):
        raise _invalid(original, f"the tag {tag!r} is not valid")
    return text[:colon], tag


def _split_domain(original: str, text: str) -> tuple[str, str]:
    first, slash, rest = text.partition("/")
    # Docker's rule: the first component is a registry only if it looks like a
    # host (has a dot or a port, is localhost, or is not lower case); otherwise
    # the whole name is a Docker Hub repository.
    if not slash or not (_looks_like_host(first) or first != first.lower()):
        return DOCKER_HUB, text
    return _normalize_domain(original, first), rest


def _looks_like_host(component: str) -> bool:
    return any(ch in component for ch in ".:[") or component == "localhost"


def _normalize_domain(original: str, domain: str) -> str:
    match = _DOMAIN_RE.fullmatch(domain)
    if not match:
        raise _invalid(original, f"the registry {domain!r} is not a valid host[:port]")
    host, port = match["host"], match["port"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise _invalid(
                original, f"the registry {domain!r} is not a valid IPv6 address"
            ) from None
    if port is not None and not 0 < int(port) < 65536:
        raise _invalid(original, f"the registry port {port} is out of range")
    normalized = f"{host}:{int(port)}" if port is not None else host
    if normalized.lower() in DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    # Host names are case-insensitive: one spelling per registry on the records.
    # Except a bare upper-case label ("Foo/bar"), which is a host only *because*
    # of its case; lowered, it would read back as a Docker Hub namespace.
    lowered = normalized.lower()
    return lowered if _looks_like_host(lowered) else normalized


def _check_repository(original: str, repository: str) -> None:
    for component in repository.split("/"):
        if _PATH_COMPONENT_RE.fullmatch(component):
            continue
        if component and _PATH_COMPONENT_RE.fullmatch(component.lower()):
            raise _invalid(original, "repository names must be lower case")
        raise _invalid(original, f"the repository path component {component!r} is not valid")


def _invalid(original: str, reason: str) -> InvalidInput:
    shown = original if len(original) <= 300 else original[:300] + "…"
    return InvalidInput(f"invalid OCI reference {shown!r}: {reason}")
