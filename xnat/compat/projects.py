"""What pyxnat offers on a project beside its data: users and roles, the prearchive and
quarantine codes, the archive folder, accessibility, aliases, and its pipelines.

These are methods of :class:`xnat.compat.objects.Project` (a mixin, so that they need only
the project's URI and session). Each is one request on XNAT's project routes
(``/data/projects/P/users``, ``.../prearchive_code``, ...); the server decides who may
read or change them (owners change, anyone who can read the project reads).

Deliberate differences: a role other than owner, member or collaborator, removing a login
that is not in the project, or an accessibility other than private, protected or public is
a clear error (pyxnat sends a malformed URL); ``current_arc()`` and ``accessibility()``
answer ``str`` (pyxnat 1.6.4 answers ``bytes``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..exceptions import XNATValueError
from ..xmlsafe import parse_xml

__all__ = ["ROLES", "Pipeline", "Pipelines", "ProjectAdmin"]

#: pyxnat's role names and the group each is listed under (``displayname``)
ROLES = {"owner": "Owners", "member": "Members", "collaborator": "Collaborators"}
ACCESSIBILITY = ("private", "protected", "public")
_XNAT = "{http://nrg.wustl.edu/xnat}"


class ProjectAdmin:
    """The project-level administration methods of pyxnat's ``Project``."""

    _uri: str
    _session: Any

    def _users(self) -> list[dict[str, str]]:
        return list(self._session.get_json(f"{self._uri}/users")["ResultSet"]["Result"])

    def _logins(self, group: str | None = None) -> list[str]:
        return [row["login"] for row in self._users() if group is None or row.get("displayname") == group]

    def users(self) -> list[str]:
        """The logins of everyone with a role in the project."""
        return self._logins()

    def owners(self) -> list[str]:
        return self._logins(ROLES["owner"])

    def members(self) -> list[str]:
        return self._logins(ROLES["member"])

    def collaborators(self) -> list[str]:
        return self._logins(ROLES["collaborator"])

    def user_role(self, login: str) -> str:
        """``owner``, ``member`` or ``collaborator``; ``""`` for a login with no role here."""
        groups = {group: role for role, group in ROLES.items()}
        return next((groups.get(row.get("displayname", ""), "") for row in self._users() if row["login"] == login), "")

    def add_user(self, login: str, role: str = "member") -> None:
        """Give an existing user a role in the project (owner, member or collaborator)."""
        name = role.strip().lower().removesuffix("s")
        if name not in ROLES:
            raise XNATValueError(f"{role!r} is not a project role: use one of {', '.join(ROLES)}")
        self._session.put(f"{self._uri}/users/{ROLES[name]}/{quote(login, safe='')}")

    def remove_user(self, login: str) -> None:
        """Take the user's role in the project away."""
        role = self.user_role(login)
        if not role:
            raise XNATValueError(f"{login!r} has no role in project {self._uri.rpartition('/')[2]}; "
                                 f"its users are {', '.join(self.users()) or 'none'}")
        self._session.delete(f"{self._uri}/users/{ROLES[role]}/{quote(login, safe='')}")

    # -- settings --------------------------------------------------------------------
    def _setting(self, name: str) -> str:
        return str(self._session.get(f"{self._uri}/{name}").text).strip()

    def _set(self, name: str, value: Any) -> None:
        self._session.put(f"{self._uri}/{name}/{quote(str(value), safe='')}")

    def prearchive_code(self) -> int:
        """What happens to data sent to the project: 0 prearchive, 4 archive, 5 archive and overwrite."""
        return int(self._setting("prearchive_code"))

    def set_prearchive_code(self, code: int | str) -> None:
        self._set("prearchive_code", code)

    def quarantine_code(self) -> int:
        """1 when new data is quarantined, else 0."""
        return int(self._setting("quarantine_code"))

    def set_quarantine_code(self, code: int | str) -> None:
        self._set("quarantine_code", code)

    def current_arc(self) -> str:
        """The archive folder new data goes into (``arc001``)."""
        return self._setting("current_arc")

    def accessibility(self) -> str:
        """``public``, ``protected`` or ``private``."""
        return self._setting("accessibility")

    def set_accessibility(self, accessibility: str = "protected") -> None:
        if accessibility not in ACCESSIBILITY:
            raise XNATValueError(f"{accessibility!r} is not an accessibility: use one of {', '.join(ACCESSIBILITY)}")
        self._set("accessibility", accessibility)

    def aliases(self) -> list[str]:
        """The project's other names, from its own document (one request; pyxnat reads the
        project listing's ``alias`` column, which may hold one alias per project)."""
        content = self._session.get(self._uri, format="xml").content
        root = parse_xml(content, f"the document of {self._uri}")
        return [node.text or "" for node in root.iterfind(f"{_XNAT}aliases/{_XNAT}alias") if node.text]

    def add_alias(self, alias: str) -> None:
        """Give the project another name (not in pyxnat 1.6.4; XNAT adds it to the ones it has)."""
        if not isinstance(alias, str) or not alias.strip():
            raise XNATValueError(f"an alias is a non-empty name, not {alias!r}")
        self._session.put(self._uri, query={"alias": alias.strip()})

    def last_modified(self) -> dict[str, str]:
        """When each subject of the project (or anything below it) last changed, by subject ID."""
        rows = self._session.get_json(f"{self._uri}/subjects", query={"columns": "ID,last_modified"})
        return {row["ID"]: row.get("last_modified", "") for row in rows["ResultSet"]["Result"]}

    @property
    def pipelines(self) -> Pipelines:
        """The pipelines enabled for the project."""
        return Pipelines(self._session, self._uri)


class Pipelines:
    """pyxnat's ``project.pipelines``: what ``/data/projects/P/pipelines`` lists."""

    def __init__(self, session: Any, project_uri: str) -> None:
        self._session = session
        self._uri = f"{project_uri}/pipelines"

    def __repr__(self) -> str:
        return f"<Pipelines {self._uri}>"

    def info(self, pipeline_id: str | None = None) -> list[dict[str, str]]:
        """The rows of the project's pipeline listing (of one pipeline, by ``Name``)."""
        rows = list(self._session.get_json(self._uri)["ResultSet"]["Result"])
        return [row for row in rows if pipeline_id is None or row.get("Name") == pipeline_id]

    def pipeline(self, pipeline_id: str) -> Pipeline:
        return Pipeline(self._session, f"{self._uri}/{quote(pipeline_id, safe='')}", pipeline_id)


class Pipeline:
    """One pipeline of a project."""

    def __init__(self, session: Any, uri: str, pipeline_id: str) -> None:
        self._session = session
        self.uri = uri
        self.id = pipeline_id

    def __repr__(self) -> str:
        return f"<Pipeline {self.id}>"

    def exists(self) -> bool:
        return bool(self._session.head(self.uri, accepted_status=(200, 403, 404)).status_code == 200)

    def info(self) -> Any:
        """The pipeline's document; a clear error when the project has no such pipeline."""
        return self._session.get_json(self.uri)
