"""Resolve OCI references to the digest a registry serves, with the user's credentials.

`resolve("ghcr.io/acme/api:1.2.0", kind="CONTAINER_IMAGE")` returns a
`ResolvedArtifact` with the manifest digest, the repository name, the tag and
the kind the manifest really is; failures are `deploytrace.errors` exceptions.
"""

from deploytrace.oci.credentials import RegistryCredentials
from deploytrace.oci.reference import Reference
from deploytrace.oci.resolve import ResolvedArtifact, resolve

__all__ = ["Reference", "RegistryCredentials", "ResolvedArtifact", "resolve"]
