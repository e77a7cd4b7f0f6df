"""What an organization trusts: public keys and Sigstore trusted roots."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sigstore.errors import Error as SigstoreError
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier
from sigstore_models.trustroot import v1 as trustroot_v1

from deploytrace.errors import InvalidInput

from .detect import describe_json, describe_pem
from .keys import TrustedKey
from .statement import load_json_strict

PUBLIC_GOOD = "public-good"
_TRUSTED_ROOT_MEDIA_PREFIX = "application/vnd.dev.sigstore.trustedroot"
_TRUSTED_ROOT = "a Sigstore trusted root"


def load_trusted_root(data: bytes) -> TrustedRoot:
    """A Sigstore `trusted_root.json`, checked to be usable for verification."""
    _check_root_document(bytes(data))
    try:
        root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(bytes(data)))
        Verifier(trusted_root=root)  # refuses roots without Fulcio CAs or logs
    except (ValueError, SigstoreError) as exc:
        raise InvalidInput(f"unusable Sigstore trusted root: {_first_line(exc)}") from None
    return root


def _check_root_document(data: bytes) -> None:
    pem = describe_pem(data, _TRUSTED_ROOT)
    if pem is not None:
        raise InvalidInput(pem)
    try:
        doc = load_json_strict(data)
    except (ValueError, RecursionError):
        raise InvalidInput("not a Sigstore trusted root: the input is not JSON") from None
    media_type = doc.get("mediaType") if isinstance(doc, dict) else None
    if not isinstance(media_type, str) or not media_type.startswith(_TRUSTED_ROOT_MEDIA_PREFIX):
        raise InvalidInput(describe_json(doc, _TRUSTED_ROOT, _TRUSTED_ROOT))


@dataclass(frozen=True)
class TrustedSigstoreRoot:
    name: str
    verifier: Verifier
    fulcio_certs: tuple[x509.Certificate, ...]

    @classmethod
    def from_root(cls, name: str, root: TrustedRoot) -> TrustedSigstoreRoot:
        return cls(name, Verifier(trusted_root=root), tuple(root.get_fulcio_certs()))

    def issued(self, cert: x509.Certificate) -> bool:
        """Whether one of this root's Fulcio CA certificates signed `cert`."""
        for ca in self.fulcio_certs:
            try:
                cert.verify_directly_issued_by(ca)
                return True
            except (ValueError, TypeError, InvalidSignature):
                continue
        return False


class TrustStore:
    """The keys and Sigstore roots `verify` accepts, by name."""

    def __init__(
        self,
        keys: Sequence[tuple[str, bytes]] = (),
        roots: Sequence[tuple[str, bytes]] = (),
        include_public_good: bool = True,
    ) -> None:
        self.keys: tuple[TrustedKey, ...] = tuple(_key(name, pem) for name, pem in keys)
        sigstore_roots = [_root(name, data) for name, data in roots]
        if include_public_good:
            sigstore_roots.insert(0, public_good_root())
        self.roots: tuple[TrustedSigstoreRoot, ...] = tuple(sigstore_roots)

    def __repr__(self) -> str:
        keys = [k.name for k in self.keys]
        roots = [r.name for r in self.roots]
        return f"TrustStore(keys={keys!r}, roots={roots!r})"


def _key(name: str, pem: bytes) -> TrustedKey:
    try:
        return TrustedKey.from_pem(name, pem)
    except InvalidInput as exc:
        raise InvalidInput(f"trusted key {name!r}: {exc.message}") from None


def _root(name: str, data: bytes) -> TrustedSigstoreRoot:
    try:
        return TrustedSigstoreRoot.from_root(name, load_trusted_root(data))
    except InvalidInput as exc:
        raise InvalidInput(f"trusted root {name!r}: {exc.message}") from None


@functools.cache
def public_good_root() -> TrustedSigstoreRoot:
    """Sigstore's public-good root, shipped in the package (a fixed, reviewed copy)."""
    data = (
        resources.files("deploytrace.attestations")
        .joinpath("roots", "public-good.json")
        .read_bytes()
    )
    return TrustedSigstoreRoot.from_root(PUBLIC_GOOD, load_trusted_root(data))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = " ".join(line.strip() for line in lines[:3]) if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
