"""Package URLs, parsed by packageurl-python: index keys for SBOM entries, and queries."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL, normalize

from deploytrace.errors import InvalidInput

from .model import MAX_KEY, MAX_PURL, MAX_TEXT, Package


@dataclass(frozen=True, slots=True)
class PurlQuery:
    """A purl to search for: type, namespace and name (lower case), version if given."""

    type: str
    namespace: str
    name: str
    version: str | None
    text: str


def query(text: str) -> PurlQuery:
    """A purl typed by a user; InvalidInput carries the parser's own complaint."""
    text = text.strip()
    try:
        parsed = PackageURL.from_string(text)
    except ValueError as error:
        raise InvalidInput(f"invalid purl {text!r}: {error}") from None
    namespace = (parsed.namespace or "").lower()
    name = parsed.name.lower()
    if len(namespace) > MAX_KEY or len(name) > MAX_KEY:
        raise InvalidInput(f"invalid purl {text!r}: namespace and name are limited to {MAX_KEY}")
    version = parsed.version or None
    return PurlQuery(parsed.type, namespace, name, version, text)


@functools.lru_cache(maxsize=1 << 16)
def _key(purl: str) -> tuple[str, str, str, str | None] | None:
    # packageurl's parse is most of what reading a big SBOM costs. Parsed without
    # normalizing, the components are then normalized once, qualifiers left out
    # (the index does not key on them): the same result for half the work. The
    # cache spares the base-image packages that recur in SBOM after SBOM.
    try:
        raw = PackageURL.from_string(purl, normalize_purl=False)
        type_, namespace, name, version, _, _ = normalize(
            raw.type, raw.namespace, raw.name, raw.version, None, None, encode=False
        )
    except ValueError:
        return None
    if not isinstance(type_, str) or not isinstance(name, str) or not name:
        return None
    ns = namespace.lower() if isinstance(namespace, str) else ""
    return type_, ns, name.lower(), version if isinstance(version, str) else None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


def package(purl: Any, name: Any, version: Any) -> Package | None:
    """The package of an SBOM or scan entry; None when it cannot be indexed.

    The purl, when there is one, decides type, namespace, name and (if it has
    one) version; otherwise the entry's own name is the key.
    """
    purl_text = _text(purl)
    name_text = _text(name)
    version_text = _text(version)
    if purl_text is not None:
        if len(purl_text) > MAX_PURL or "\x00" in purl_text:
            return None
        key = _key(purl_text)
        if key is None:
            return None
        type_, namespace, key_name, purl_version = key
        version_text = purl_version or version_text
    elif name_text is not None:
        type_, namespace, key_name = "", "", name_text.lower()
    else:
        return None
    display = name_text or key_name
    if (
        len(namespace) > MAX_KEY
        or len(key_name) > MAX_KEY
        or len(type_) > 64
        or (version_text is not None and len(version_text) > MAX_KEY)
        or "\x00" in display
        or "\x00" in key_name
        or (version_text is not None and "\x00" in version_text)
    ):
        return None
    return Package(
        purl=purl_text,
        type=type_,
        namespace=namespace,
        name=key_name,
        version=version_text,
        display_name=display[:MAX_TEXT],
    )
