"""Which URLs a webhook may call.

`https://` anywhere, or `http://` to this machine only (a receiver beside the
server); nothing else (`file:`, `ftp:`, ...). Credentials in a URL are refused and
never repeated in the error: a webhook authenticates its receiver by signature.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from deploytrace.errors import InvalidInput
from deploytrace.hosts import is_loopback

MAX_URL = 2048


def webhook_url(raw: str) -> str:
    """The URL, checked, with scheme and host lower-cased."""
    if not raw or len(raw) > MAX_URL:
        raise InvalidInput(f"a webhook URL has 1 to {MAX_URL} characters")
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise InvalidInput("a webhook URL must not contain spaces or control characters")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidInput("not a valid webhook URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidInput(
            "a webhook URL must start with https:// (or http:// to a loopback address)"
        )
    if "@" in parts.netloc:
        raise InvalidInput(
            "a webhook URL must not contain credentials (user:password@); "
            "receivers check the webhook signature instead"
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidInput("a webhook URL needs a host")
    if scheme == "http" and not is_loopback(host):
        raise InvalidInput(
            "http:// webhook URLs are allowed to loopback addresses only "
            "(localhost, 127.0.0.1, [::1]); use https://"
        )
    if parts.fragment:
        raise InvalidInput("a webhook URL must not have a #fragment")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))
