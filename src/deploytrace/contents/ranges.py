"""Version ranges in vers syntax (`vers:maven/>=2.0.0|<2.15.0`), checked by univers.

univers is imported on use: it costs a few hundred milliseconds to import and
only searches with `--version-range` need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deploytrace.errors import InvalidInput

# purl types whose vers scheme has another name
_SCHEME_OF_TYPE = {"github": "github", "pub": "pub"}


class VersionRange:
    """A parsed vers range; `matching` keeps the versions inside it."""

    def __init__(self, text: str, parsed: Any) -> None:
        self.text = text
        self._parsed = parsed
        self.scheme: str = parsed.scheme

    def contains(self, version: str) -> bool:
        """Whether `version` is in the range; a version its scheme cannot read is not."""
        try:
            return bool(self._parsed.version_class(version) in self._parsed)
        except Exception:  # univers raises many types for versions it cannot read
            return False

    def matching(self, versions: Iterable[str]) -> list[str]:
        return [v for v in versions if self.contains(v)]

    def check_type(self, purl_type: str) -> None:
        """Refuse a range whose scheme is another ecosystem's than the purl's type."""
        from univers.version_range import RANGE_CLASS_BY_SCHEMES

        scheme = _SCHEME_OF_TYPE.get(purl_type, purl_type)
        if scheme in RANGE_CLASS_BY_SCHEMES and self.scheme not in (scheme, "generic", "all"):
            raise InvalidInput(
                f"version range {self.text!r} uses the {self.scheme} scheme, "
                f"but the purl's type is {purl_type}: use vers:{scheme}/..."
            )


def parse(text: str) -> VersionRange:
    """A vers range typed by a user; InvalidInput carries univers's own complaint."""
    from univers.version_range import VersionRange as UniversRange

    text = text.strip()
    try:
        parsed = UniversRange.from_string(text)  # type: ignore[no-untyped-call]
    except Exception as error:  # ValueError, InvalidVersion, and others from schemes
        raise InvalidInput(f"invalid version range {text!r}: {error}") from None
    return VersionRange(text, parsed)
