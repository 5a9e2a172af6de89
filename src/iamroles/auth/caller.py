"""What authentication produces: the caller, as every operation sees it."""
from __future__ import annotations

from dataclasses import dataclass

from iamroles.policy import Principal
from iamroles.tokens import SessionClaims

__all__ = ["Caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal."""

    principal: Principal
    account_id: str
    partition: str
    access_key_id: str
    user_key: str | None = None  # the IAM user's name key, for user callers
    role_key: str | None = None  # the role's name key, for role sessions
    session: SessionClaims | None = None  # the session's claims, for temporary credentials

    @property
    def is_root(self) -> bool:
        """The account's root user: with its own credentials (which bypass identity policies, not SCPs) or in a
        privileged root session (:attr:`task_scoped`)."""
        return self.user_key is None and self.role_key is None

    @property
    def task_scoped(self) -> bool:
        """A privileged root session (STS AssumeRoot): the member account's root, bounded by its task policy and the
        organization's standing, never by nothing (``iam.authorize``)."""
        return self.session is not None and self.session.kind == "root"
