"""Who is acting, and what their role lets them do."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from deploytrace.errors import Forbidden


class Role(enum.StrEnum):
    ADMIN = "admin"
    WRITER = "writer"
    VIEWER = "viewer"


class Action(enum.StrEnum):
    READ = "read"
    WRITE = "write"  # push attestations, record deployments
    ADMIN = "admin"  # environments, trust material, tokens


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.WRITER: frozenset({Action.READ, Action.WRITE}),
    Role.VIEWER: frozenset({Action.READ}),
}


@dataclass(frozen=True)
class Actor:
    """The caller: an API token of one organization, or the local user when embedded."""

    org_id: uuid.UUID
    org_name: str
    name: str
    role: Role
    token_id: uuid.UUID | None = None
    # The token was verified by this process a moment ago but not yet on this request
    # (tenancy.recently_verified): whoever accepts such an actor must confirm in its own
    # first statement that the token is still live (storage.tenancy.TOKEN_LIVE).
    unconfirmed: bool = False

    def require(self, action: Action) -> None:
        if action not in _ALLOWED[self.role]:
            raise Forbidden(
                f"token {self.name!r} has role {self.role.value}, which may not {_VERB[action]}"
            )


_VERB = {
    Action.READ: "read",
    Action.WRITE: "push attestations or record deployments",
    Action.ADMIN: "change environments, trust material or tokens",
}
