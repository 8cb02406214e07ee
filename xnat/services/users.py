"""``session.users`` and ``project.users``: who is on the server, and in a project with what role.

Both are read-only mappings ``login -> User`` read with one request and cached until
:meth:`Users.clearcache` (or while ``session.caching`` is off, never). A server that
refuses the list (403, as XNAT does for non-administrators on some sites) gives an
empty mapping, as in xnatpy. ``project.users[login].access_level`` is the role's group
name (``Owners``, ``Members``, ``Collaborators``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..exceptions import XNATResponseError, XNATValueError, describe_response
from ..transport import response_json
from .cached import CachedMapping

__all__ = ["GROUPS", "User", "Users", "project_group"]

#: The project groups a user can be in, as XNAT names them in ``/data/projects/P/users/{group}/{login}``.
GROUPS = ("Owners", "Members", "Collaborators")


def project_group(level: str) -> str:
    """XNAT's group name for a role: ``owner``/``Owners`` -> ``Owners`` (case and plural are forgiven)."""
    if isinstance(level, str):
        key = level.strip().lower().rstrip("s")
        for group in GROUPS:
            if group.lower().rstrip("s") == key:
                return group
    raise XNATValueError(f"access level should be one of {', '.join(GROUPS)}, not {level!r}")


class User:
    """One user (a row of ``/data/users`` or of a project's ``users``)."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self.data = dict(data)

    def __repr__(self) -> str:
        return f"<User {self.login}>"

    def __str__(self) -> str:
        return f"{self.login} ({self.access_level})" if self.access_level else self.login

    @property
    def id(self) -> str | None:
        return self.data.get("xdat_user_id") or self.data.get("ID")

    @property
    def login(self) -> str:
        return self.data["login"]

    @property
    def access_level(self) -> str | None:
        """The project group (``Owners``...) for project users; None for site users."""
        return self.data.get("displayname")

    @property
    def group(self) -> str | None:
        return self.data.get("GROUP_ID")

    @property
    def email(self) -> str:
        return self.data.get("email", "")

    @property
    def first_name(self) -> str:
        return self.data.get("firstname", "")

    @property
    def last_name(self) -> str:
        return self.data.get("lastname", "")


class Users(CachedMapping[User]):
    """Users of the server (``/data/users``) or of one project (``/data/projects/P/users``)."""

    def __init__(self, xnat_session: Any, path: str = "/data/users") -> None:
        super().__init__(xnat_session)
        self.path = path

    def __repr__(self) -> str:
        return f"<Users {self.path}>"

    def _read(self) -> dict[str, User]:
        response = self.xnat_session.get(self.path, format="json", accepted_status=[200, 403])
        if response.status_code != 200:
            return {}
        data = response_json(response)
        result_set = data.get("ResultSet") if isinstance(data, dict) else None
        rows = result_set.get("Result") if isinstance(result_set, dict) else None
        if not isinstance(rows, list) or not all(isinstance(row, dict) and "login" in row for row in rows):
            raise XNATResponseError(describe_response(response, "the user listing is not a ResultSet of users"),
                                    response=response)
        return {row["login"]: User(row) for row in rows}

    def _missing(self, key: str) -> str:
        return f"no user {key!r} in {self.path}"

    def _use_cache(self) -> bool:
        return bool(getattr(self.xnat_session, "caching", True))
