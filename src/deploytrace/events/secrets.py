"""Webhook signing secrets: made here, shown once, kept sealed.

A secret must stay usable for signing, so it cannot be hashed like an API token.
It is sealed with AES-256-GCM under the server key, with the webhook's id as
associated data (a sealed secret copied onto another webhook does not open).

Threat model: a copy of the database (a backup, a replica, read access through
SQL) reveals no webhook secret, because the key lives only in the server's
environment (`DEPLOYTRACE_SECRET_KEY`) or key file (`$DEPLOYTRACE_HOME/secret.key`,
mode 0600). Whoever holds both the database and the key runs the server, and can
sign as it anyway.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
from pathlib import Path

from deploytrace.errors import InvalidInput

PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes
KEY_BYTES = 32
_SEALED = "v1:"
_NONCE = 12


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes, the Standard Webhooks form."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def parse_key(text: str, source: str) -> bytes:
    """A server key: base64 (standard or URL-safe) of 32 bytes, e.g. `openssl rand -base64 32`."""
    value = text.strip().rstrip("=").replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise InvalidInput(
            f"{source} must be base64 of {KEY_BYTES} random bytes (e.g. `openssl rand -base64 32`)"
        )
    return key


def server_key(configured: str | None, key_file: Path) -> bytes:
    """The key from the environment, else from `key_file`, which is made on first use.

    Every replica of one database must see the same key: set DEPLOYTRACE_SECRET_KEY
    (or share the key file) when replicas run on several machines.
    """
    if configured:
        return parse_key(configured, "DEPLOYTRACE_SECRET_KEY")
    with contextlib.suppress(FileNotFoundError):
        return parse_key(key_file.read_text(), str(key_file))
    key_file.parent.mkdir(parents=True, exist_ok=True)
    fresh = base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n"
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return parse_key(key_file.read_text(), str(key_file))
    with os.fdopen(fd, "w") as out:
        out.write(fresh)
    return parse_key(fresh, str(key_file))


def seal(key: bytes, secret: str, bound_to: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), bound_to.encode())
    return _SEALED + base64.b64encode(nonce + sealed).decode()


class SealedSecretError(Exception):
    """The sealed secret does not open with this key (another key, or tampered)."""


def unseal(key: bytes, sealed: str, bound_to: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not sealed.startswith(_SEALED):
        raise SealedSecretError("unknown sealed secret format")
    raw = base64.b64decode(sealed[len(_SEALED) :])
    try:
        plain = AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], bound_to.encode())
    except InvalidTag:
        raise SealedSecretError(
            "the webhook secret does not open with this server's key "
            "(DEPLOYTRACE_SECRET_KEY or the key file differs from the one it was made with)"
        ) from None
    return plain.decode()
