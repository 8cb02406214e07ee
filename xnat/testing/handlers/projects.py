"""Projects: listing, item, create/update/delete, accessibility and user roles."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from ..auth import ACCESSIBILITY, ROLES
from ..store import loads
from . import items, resources
from .base import Ctx, HTTPError, forbidden, not_found, text
from .listing import table
from .lookup import Node, project_node, project_row, refuse
from .writes import DOCUMENTS_KEY, check_fields, check_label, merge_documents, node_to_data, read_write

if TYPE_CHECKING:  # pragma: no cover
    from ..app import XNATApp

DEFAULTS = ["ID", "secondary_ID", "name", "description", "pi_firstname", "pi_lastname"]
COLUMNS = {"secondary_ID": "secondary_id", "name": "name", "description": "description",
           "pi_firstname": "pi_firstname", "pi_lastname": "pi_lastname"}
SHORTCUTS = {"secondary_ID": "secondary_ID", "name": "name", "description": "description",
             "keywords": "keywords", "pi_firstname": "PI/firstname", "pi_lastname": "PI/lastname"}
# Project settings with their own URLs, and the values a new project starts with.
SETTINGS = {"prearchive_code": ("0", ("0", "4", "5")), "quarantine_code": ("0", ("0", "1")),
            "current_arc": ("arc001", None)}
GROUPS = {"owners": "owner", "members": "member", "collaborators": "collaborator"}


def collection(ctx: Ctx) -> Response:
    """``GET /data/projects`` (listing) and ``POST /data/projects`` (create from XML)."""
    if ctx.method == "POST":
        write = read_write(ctx, "xnat:projectData", SHORTCUTS)
        project = write.fields.get("ID") or ctx.param("ID")
        if not project:
            raise HTTPError(422, "The project document must include the project ID")
        if project_row(ctx, project) is not None:
            raise HTTPError(409, "Project already exists")
        protocols = _protocols(write.body, write.fields)
        _create(ctx, project, write.fields, _aliases(ctx, write.body, write.fields))
        _save_protocols(ctx, project, protocols)
        return text(f"/data/projects/{project}", 200)
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    return table(ctx, project_rows(ctx), DEFAULTS, "Projects", keys=("ID",))


def project_rows(ctx: Ctx) -> list[dict[str, Any]]:
    """Every project the user can see, as listing rows."""
    access, user = ctx.backend.access, ctx.user
    rows = []
    roles = access.roles(user)
    aliases = ctx.backend.projects.aliases_by_project()
    joined = _aliases_named(ctx)
    for row in ctx.backend.projects.all():
        if not access.can_see(user, row["id"], row["accessibility"]):
            continue
        role = roles.get(row["id"])
        if ctx.param("owner") == "true" and role != "owner":
            continue
        if ctx.param("member") == "true" and role != "member":
            continue
        if ctx.param("collaborator") == "true" and role != "collaborator":
            continue
        if ctx.param("accessible") == "true" and not access.can_read(user, row["id"], row["accessibility"]):
            continue
        out = {"ID": row["id"], **{k: row[v] for k, v in COLUMNS.items()},
               "URI": f"/data/projects/{row['id']}", "_type": row["xsi_type"], "_fields": loads(row["fields"])}
        out["accessibility"] = row["accessibility"]
        out["insert_date"], out["insert_user"] = row["insert_date"], row["insert_user"]
        out["last_modified"] = row["last_modified"] or row["insert_date"]  # the insert date until changed
        names = aliases.get(row["id"]) or [""]
        if joined:  # the alias also under its xpath, for columns=xnat:projectData/aliases/alias/alias
            rows += [{**out, "alias": alias, "_fields": {**out["_fields"], "aliases/alias/alias": alias}}
                     for alias in names]
        else:
            rows.append({**out, "alias": names[0]})
    return rows


def _aliases_named(ctx: Ctx) -> bool:
    """Does the query name the alias column (or filter on it)? XNAT's query organizer then joins
    the project's aliases table (the ``alias`` shortcut is ``xnat:projectData/aliases/alias/alias``):
    one row per alias, a project without one keeps its row (ProjectListResource, DefaultProjectHandler)."""
    named = [c.strip().lower() for c in (ctx.param("columns") or "").split(",")] + [k.lower() for k in ctx.params]
    return any(n == "alias" or n.endswith("/aliases/alias/alias") for n in named)


def item(ctx: Ctx, project: str) -> Response:
    """``GET|PUT|DELETE /data/projects/{P}``."""
    if ctx.method == "PUT":
        return _put(ctx, project)
    if ctx.method in ("GET", "HEAD"):  # a protected project shows its description, not its data
        row = project_row(ctx, project)
        if row is not None and ctx.backend.access.can_see(ctx.user, row["id"], row["accessibility"]):
            return items.respond(ctx, Node("project", row["id"], row, row["id"]))
    node = project_node(ctx, project)
    if ctx.method == "DELETE":
        if not ctx.backend.access.is_owner(ctx.user, node.key):
            raise forbidden()
        resources.delete_tree(ctx, node, remove_files=ctx.flag("removeFiles"))
        ctx.backend.projects.forget(node.key)
        return text("")
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    return items.respond(ctx, node)


def pipelines(ctx: Ctx, project: str) -> Response:
    """``GET /data/projects/P/pipelines``: the project's pipelines, an empty table here (this
    server runs none; XNAT's ProjectPipelineListResource answers an empty JSON table too)."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    project_node(ctx, project)  # 404/403 as for the project's other data
    return table(ctx, [], ["Name", "Description", "Path", "Datatype", "Stepid", "Generates"], "Pipelines",
                 always=())


def _put(ctx: Ctx, project: str) -> Response:
    row = project_row(ctx, project)
    if row is not None:  # as GET answers: 404 for a project the user may not see, 403 for one it may not own
        access = ctx.backend.access
        refuse(access.write_project(ctx.user, row["id"], row["accessibility"], access.is_owner(ctx.user, row["id"])),
               "project")
    ctx.require_login()
    write = read_write(ctx, "xnat:projectData", SHORTCUTS)
    if write.fields.get("ID", project) != project:
        raise HTTPError(417, "The project ID in the document does not match the URL")
    write.fields.pop("ID", None)
    protocols = _protocols(write.body, write.fields)
    aliases = _aliases(ctx, write.body, write.fields)
    check_fields(ctx, "xnat:projectData", write.fields)
    fields: dict[str, Any] = dict(write.fields)
    if write.documents:  # other child items (publications, investigators...), kept whole
        kept = {DOCUMENTS_KEY: loads(row["fields"]).get(DOCUMENTS_KEY)} if row is not None else {}
        merge_documents(kept, write.documents)
        fields[DOCUMENTS_KEY] = kept[DOCUMENTS_KEY]
    accessibility = ctx.param("accessibility")
    if accessibility is not None and accessibility not in ACCESSIBILITY:
        raise HTTPError(400, f"Invalid accessibility: {accessibility}")
    if row is None:
        check_label(project, "project ID")
        if ctx.backend.projects.was_deleted(project):
            raise HTTPError(403, "A project with this ID was deleted; its ID cannot be reused")
        _create(ctx, project, {k: v for k, v in fields.items() if v != "NULL"}, aliases, accessibility)
        _save_protocols(ctx, project, protocols)
        return text(project, 201)
    cleared = {k for k, v in fields.items() if v == "NULL"}  # XNAT clears a field given NULL
    if "name" in cleared or "secondary_ID" in cleared:
        raise HTTPError(400, "A project's name and secondary_ID cannot be cleared")
    _update(ctx, row["id"], fields, aliases, accessibility, cleared)
    _save_protocols(ctx, row["id"], protocols)
    return text(row["id"], 200)


def _protocols(body: Any, fields: dict[str, str]) -> list[Any] | None:
    """The ``studyProtocol`` items (custom variable definitions) of a project document, or None."""
    if body is None or not body.child_items("studyProtocol"):
        return None
    for key in [k for k in fields if k.startswith("studyProtocol/")]:  # a lone one was flattened
        del fields[key]
    protocols: list[Any] = body.child_items("studyProtocol")
    return protocols


def _save_protocols(ctx: Ctx, project: str, protocols: list[Any] | None) -> None:
    """Keep the document's studyProtocol items whole; a document without them keeps the old ones."""
    if protocols is None:
        return
    ctx.backend.projects.set_setting(project, "studyProtocol", json.dumps([node_to_data(p) for p in protocols]))


def _split(fields: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Fields stored in their own columns vs. the JSON ``fields`` column."""
    columns = {"secondary_ID": "secondary_id", "name": "name", "description": "description",
               "PI/firstname": "pi_firstname", "PI/lastname": "pi_lastname"}
    own = {columns[k]: v for k, v in fields.items() if k in columns}
    rest = {k: v for k, v in fields.items() if k not in columns}
    return own, rest


def _check_unique(ctx: Ctx, project: str, own: dict[str, str], aliases: dict[str, str]) -> None:
    projects = ctx.backend.projects
    for column in ("secondary_id", "name"):
        value = own.get(column)
        if value and projects.column_taken(column, value, project):
            raise HTTPError(409, f"Another project already uses this {column}: {value}")
    for alias in aliases:
        other = projects.alias_owner(alias)
        named = project_row(ctx, alias) if alias != project else None  # (resolves aliases too)
        if (other and other != project) or (named is not None and named["id"] != project):
            raise HTTPError(409, f"Another project already uses the alias {alias}")


def _aliases(ctx: Ctx, body: Any = None, fields: dict[str, str] | None = None) -> dict[str, str]:
    """Aliases (alias -> its ``source`` attribute, "" when none) from the query (``alias=``/``aliases=``)
    and from a project document's ``aliases/alias`` items, so that the XML the server writes is
    accepted back whole (issue 15 items 3 and 2)."""
    raw = ",".join(ctx.params.getlist("alias") + ctx.params.getlist("aliases"))
    found = {a.strip(): "" for a in raw.split(",") if a.strip()}
    if body is not None:
        for alias in body.child_items("aliases/alias"):
            if alias.fields.get("alias"):
                found[str(alias.fields["alias"])] = str(alias.fields.get("source") or "")
    if fields is not None:
        for key in [k for k in fields if k.startswith("aliases/")]:  # a lone one was flattened
            del fields[key]
    return found


def _create(ctx: Ctx, project: str, fields: dict[str, str], aliases: dict[str, str],
            accessibility: str | None = None) -> None:
    own, rest = _split(fields)
    own.setdefault("secondary_id", project)
    own.setdefault("name", project)
    _check_unique(ctx, project, own, aliases)
    # the creator owns the project, an admin too: XNAT adds the creator to the project's Owners
    # group (issue 15 item 2, seen on XNAT 1.8: /data/projects/P1/users lists the admin who made it)
    ctx.backend.projects.create(project, own, rest, accessibility or "private", ctx.user.login, aliases,
                                owner=ctx.user.login)


def _update(ctx: Ctx, project: str, fields: dict[str, str], aliases: dict[str, str], accessibility: str | None,
            cleared: set[str] | None = None) -> None:
    cleared = cleared or set()
    own, rest = _split({k: ("" if k in cleared else v) for k, v in fields.items()})
    _check_unique(ctx, project, own, aliases)
    ctx.backend.projects.update(project, own, rest, cleared, accessibility, aliases)


def accessibility(ctx: Ctx, project: str, value: str | None = None) -> Response:
    """``GET /data/projects/P/accessibility`` (plain text) and ``PUT .../accessibility/{value}``."""
    node = project_node(ctx, project)
    if value is None:
        if ctx.method != "GET":
            raise HTTPError(405, "Method Not Allowed")
        return text(node.row["accessibility"])
    if ctx.method not in ("PUT", "POST"):
        raise HTTPError(405, "Method Not Allowed")
    if value not in ACCESSIBILITY:
        raise HTTPError(400, f"Invalid accessibility: {value}")
    if not ctx.backend.access.is_owner(ctx.user, node.key):
        raise forbidden()
    ctx.backend.projects.set_accessibility(node.key, value)
    return text(value)


def setting(ctx: Ctx, project: str, name: str, value: str | None = None) -> Response:
    """``GET /data/projects/P/{prearchive_code|quarantine_code|current_arc}`` and ``PUT .../{value}``."""
    if name not in SETTINGS:
        raise HTTPError(404, f"Unknown project setting: {name}")
    node = project_node(ctx, project)
    default, allowed = SETTINGS[name]
    if value is None:
        if ctx.method != "GET":
            raise HTTPError(405, "Method Not Allowed")
        stored = ctx.backend.projects.setting(node.key, name)
        return text(stored if stored is not None else default)
    if ctx.method not in ("PUT", "POST"):
        raise HTTPError(405, "Method Not Allowed")
    if allowed is not None and value not in allowed:
        raise HTTPError(400, f"Invalid {name}: {value}")
    if not ctx.backend.access.is_owner(ctx.user, node.key):
        raise forbidden()
    ctx.backend.projects.set_setting(node.key, name, value)
    return text(value)


def user_roles(ctx: Ctx, project: str) -> Response:
    """``GET /data/projects/P/users``: the project's users and their groups."""
    node = project_node(ctx, project)
    rows = []
    for r in ctx.backend.projects.members(node.key):
        rows.append({"login": r["login"], "firstname": r["firstname"], "lastname": r["lastname"],
                     "email": r["email"], "ID": str(r["xdat_user_id"]),
                     "displayname": r["role"].capitalize() + "s", "role": r["role"],
                     "GROUP_ID": f"{node.key}_{r['role']}"})
    return table(ctx, rows, ["role", "login", "firstname", "lastname", "email", "ID", "displayname", "GROUP_ID"],
                 "Users", always=())


def user_role(ctx: Ctx, project: str, group: str, login: str) -> Response:
    """``PUT|DELETE /data/projects/P/users/{Owners|Members|Collaborators}/{login}``."""
    node = project_node(ctx, project)
    if not ctx.backend.access.is_owner(ctx.user, node.key):
        raise forbidden()
    role = GROUPS.get(group.lower()) or (group.lower() if group.lower() in ROLES else None)
    if role is None:
        raise HTTPError(404, f"Unknown group: {group}")
    if ctx.method == "PUT":
        set_role(ctx.app, node.key, login, role)
    elif ctx.method == "DELETE":
        set_role(ctx.app, node.key, login, None)
    else:
        raise HTTPError(405, "Method Not Allowed")
    return text("")


def set_role(app: XNATApp, project: str, login: str, role: str | None) -> None:
    """Give ``login`` a role in ``project`` (None removes it)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"invalid role {role!r}; expected one of {ROLES}")
    if app.auth.user(login) is None:
        raise HTTPError(404, f"Unable to find user {login}")
    if not app.backend.projects.exists(project):
        raise not_found("project")
    app.backend.projects.set_role(project, login, role)
