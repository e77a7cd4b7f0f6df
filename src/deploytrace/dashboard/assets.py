"""The dashboard's static files, loaded once from the package and served from memory."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    # Module scripts are refused unless served with a JavaScript type (and nosniff is on).
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Only plain file names: the URL path never reaches the file system, so no traversal.
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(html|css|js|svg)$")

# The page loads its own scripts and styles and talks to its own origin; nothing inline,
# nothing framed, and forms never submit (the sign-in form is handled by script).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate on every load (cheap with the ETag) so an upgrade is picked up at once.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def load() -> dict[str, Asset]:
    """Every servable file of `static/`, by file name."""
    assets: dict[str, Asset] = {}
    for entry in (resources.files(__package__) / "static").iterdir():
        if not entry.is_file() or not _NAME.match(entry.name):
            continue
        body = entry.read_bytes()
        suffix = entry.name[entry.name.rindex(".") :]
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[entry.name] = Asset(body=body, media_type=_MEDIA_TYPES[suffix], etag=etag)
    return assets
