"""The one error hierarchy of deploytrace.

Every layer raises these. The API maps them to HTTP statuses in one table
(`deploytrace.api.errors`), the CLI maps them to exit codes in one table
(`deploytrace.cli.main`). The `code` is the stable machine-readable name that
travels in the JSON error body, so a client can rebuild the same exception on
its side of the wire.
"""

from __future__ import annotations


class DeploytraceError(Exception):
    """Base class: a failure with a message meant for the user."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(DeploytraceError):
    """The request is malformed or breaks a rule of SPEC §2."""

    code = "invalid"


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the configured limit."""

    code = "payload_too_large"


class NotFound(DeploytraceError):
    """The named thing does not exist (or belongs to another organization)."""

    code = "not_found"


class Ambiguous(InvalidInput):
    """A short id or digest prefix that matches more than one thing."""

    code = "ambiguous"


class NotAttested(NotFound):
    """No attestation of the organization attests the artifact (still not found: 404, exit 3)."""

    code = "not_attested"


class Conflict(DeploytraceError):
    """The request contradicts the current state."""

    code = "conflict"


class StaleReport(Conflict):
    """A report observed before what its slot or scope already knows (SPEC §7 Order)."""

    code = "stale_report"


class Unauthenticated(DeploytraceError):
    """No credentials, or credentials that are not (or no longer) valid."""

    code = "unauthenticated"


class Forbidden(DeploytraceError):
    """Valid credentials whose role may not perform the action."""

    code = "forbidden"


class Unavailable(DeploytraceError):
    """A service we depend on (database, server, registry) cannot be reached."""

    code = "unavailable"


class PolicyViolation(DeploytraceError):
    """An enforced policy refused the change (SPEC §9); the message names each violation."""

    code = "policy_violation"

    def __init__(self, message: str, violations: object = ()) -> None:
        super().__init__(message)
        self.violations = violations


BY_CODE: dict[str, type[DeploytraceError]] = {
    cls.code: cls
    for cls in (
        DeploytraceError,
        InvalidInput,
        PayloadTooLarge,
        Ambiguous,
        NotFound,
        NotAttested,
        Conflict,
        StaleReport,
        Unauthenticated,
        Forbidden,
        Unavailable,
        PolicyViolation,
    )
}


def from_code(code: str, message: str) -> DeploytraceError:
    """Rebuild the exception a server answered with."""
    return BY_CODE.get(code, DeploytraceError)(message)
