"""The configuration service: ``/data/config[/{tool}[/{path}]]`` (site-wide) and
``/data/projects/P/config[/{tool}[/{path}]]`` (per project), as XNAT's ConfigResource.

``GET`` answers a table (REST-NOTES §5 columns; recorded: docs16 ``/REST/config/anon``) of the
latest version of each document, or with ``contents=true`` the text of one; ``version=N`` an
older one. ``PUT`` stores the body as a new version (``inbody=true`` or any body), or with
``status=enabled|disabled`` and no body toggles the document. Reading a
project's documents needs read access to it, writing them its owners; the site's are read by
anyone signed in and written by admins.
"""

from __future__ import annotations

import sqlite3

from werkzeug.wrappers import Response

from ..backend.config import COLUMNS
from .base import Ctx, HTTPError, forbidden, text
from .listing import table
from .lookup import project_node


def site_config(ctx: Ctx, tool: str | None = None, path: str | None = None) -> Response:
    """``/data/config[/{tool}[/{path}]]``."""
    ctx.require_login()
    return _serve(ctx, "", tool, path)


def project_config(ctx: Ctx, project: str, tool: str | None = None, path: str | None = None) -> Response:
    """``/data/projects/P/config[/{tool}[/{path}]]``."""
    node = project_node(ctx, project)  # 404/403 as for the project's other data
    return _serve(ctx, node.key, tool, path)


def _serve(ctx: Ctx, project: str, tool: str | None, path: str | None) -> Response:
    if ctx.method == "PUT":
        return _put(ctx, project, tool, path)
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    version = _version(ctx)
    rows = ctx.backend.configs.latest(project, tool, path, version)
    if tool is not None and not rows:
        raise HTTPError(404, f"No configuration {tool}{'/' + path if path else ''}")
    if ctx.flag("contents"):
        if path is None or len(rows) != 1:
            raise HTTPError(400, "contents=true reads one document: name its tool and path")
        return text(rows[0]["contents"])
    # the recorded answer has no totalRecords
    return table(ctx, [_row(r) for r in rows], list(COLUMNS), None, always=(), total=False)


def _put(ctx: Ctx, project: str, tool: str | None, path: str | None) -> Response:
    if tool is None or path is None:
        raise HTTPError(400, "A configuration is written at .../config/{tool}/{path}")
    if not ctx.backend.access.may_configure(ctx.user, project or None):
        raise forbidden()
    status = ctx.param("status")
    if status is not None and not ctx.request.get_data(cache=True):
        # PUT ...?status=enabled|disabled toggles a document (XNAT 1.6 configuration framework docs)
        if status not in ("enabled", "disabled"):
            raise HTTPError(400, f"status is enabled or disabled, not {status!r}")
        if not ctx.backend.configs.set_status(project, tool, path, status):
            raise HTTPError(404, f"No configuration {tool}/{path}")
        return text("")
    try:
        contents = ctx.request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPError(400, "A configuration is UTF-8 text") from None
    version = ctx.backend.configs.put(project, tool, path, contents, ctx.user.login, ctx.param("reason") or "")
    return text(str(version), 201 if version == 1 else 200)


def _version(ctx: Ctx) -> int | None:
    value = ctx.param("version")
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise HTTPError(400, f"Invalid version: {value!r}")
    return int(value)


def _row(r: sqlite3.Row) -> dict[str, str]:
    return {"tool": r["tool"], "path": r["path"], "project": r["project"], "user": r["login"],
            "create_date": r["create_date"], "reason": r["reason"], "contents": r["contents"],
            "unversioned": "false", "version": str(r["version"]), "status": r["status"]}
