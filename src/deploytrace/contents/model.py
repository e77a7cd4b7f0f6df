"""What an attestation says about an artifact's contents, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

# Key columns are indexed: values longer than these are not indexable, so the
# entry is skipped (and counted) rather than cut, which would make it match the
# wrong thing.
MAX_KEY = 255
MAX_PURL = 2048
MAX_TEXT = 512

# VEX statuses (OpenVEX); the first two suppress a finding.
NOT_AFFECTED = "not_affected"
FIXED = "fixed"
AFFECTED = "affected"
UNDER_INVESTIGATION = "under_investigation"
SUPPRESSING = frozenset({NOT_AFFECTED, FIXED})
VEX_STATUSES = frozenset({NOT_AFFECTED, FIXED, AFFECTED, UNDER_INVESTIGATION})


@dataclass(frozen=True, slots=True)
class Package:
    """A package as indexed: the purl's key parts (type, namespace and name lower-cased,
    "" when absent), its version, and the name the document gives it."""

    purl: str | None
    type: str
    namespace: str
    name: str  # the purl's name (lower case), else the document's name (lower case)
    version: str | None
    display_name: str


@dataclass(frozen=True, slots=True)
class Component:
    package: Package
    # The digest this entry is about; None: the statement's subjects.
    artifact: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One vulnerability reported for one package (or for the artifact as a whole)."""

    vulnerability: str
    aliases: tuple[str, ...]
    severity: str | None
    package: Package | None
    artifact: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        """Every id this finding is known by, upper-cased, the primary one first."""
        seen: dict[str, None] = {}
        for value in (self.vulnerability, *self.aliases):
            seen.setdefault(value.upper(), None)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class VexStatement:
    """A VEX statement about one vulnerability in one or more products."""

    vulnerability: str
    aliases: tuple[str, ...]
    status: str
    # Product digests; empty: the statement's subjects.
    products: tuple[str, ...]
    # Packages of the product the statement is limited to; empty: all of them.
    subcomponents: tuple[Package, ...]
    timestamp: str | None  # RFC 3339 as written; later statements win
    justification: str | None

    @property
    def ids(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for value in (self.vulnerability, *self.aliases):
            seen.setdefault(value.upper(), None)
        return tuple(seen)


@dataclass
class Contents:
    """Everything one attestation says about contents; `skipped` counts the entries
    that could not be read (malformed purls, missing names, undecodable material)."""

    components: list[Component] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    statements: list[VexStatement] = field(default_factory=list)
    skipped: int = 0
    formats: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.components or self.findings or self.statements)

    def merge(self, other: Contents) -> None:
        self.components.extend(other.components)
        self.findings.extend(other.findings)
        self.statements.extend(other.statements)
        self.skipped += other.skipped
        for name in other.formats:
            if name not in self.formats:
                self.formats.append(name)
