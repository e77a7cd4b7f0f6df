"""Host names as users write them: what counts as this machine."""

from __future__ import annotations


def is_loopback(host: str) -> bool:
    """True for localhost (also as `localhost.`), 127.0.0.0/8 and ::1 (with or without a
    port, an IPv6 address with or without brackets)."""
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    if host.lower() in ("localhost", "localhost."):
        return True
    import ipaddress  # only for a literal address: CLI start-up

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
