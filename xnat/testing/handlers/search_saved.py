"""Saved searches: ``/data/search/saved[/{id}[/results]]`` (REST-NOTES §10).

As XNAT's ``SavedSearchListResource`` and ``SavedSearchResource`` answer them:

* ``GET /data/search/saved``: the stored searches the user may see (``id``,
  ``brief_description``, ``description``, ``root_element_name``, ...); ``includeTag``
  lists project-tagged ones, an unknown tag is 400.
* ``PUT /data/search/saved/{id}`` with an ``xdat:bundle``: stored under ``{id}`` (the
  bundle's own ``ID`` is replaced), the saver added to its allowed users; a body that is
  not a bundle is 422; changing a search one is not allowed on is 403.
* ``GET /data/search/saved/{id}``: the stored bundle as XML; ``.../results``: its rows
  (``format=json|csv|xml|html``), filtered by read access like any search.
* ``DELETE /data/search/saved/{id}``: see :mod:`xnat.testing.backend.saved`; an unknown
  ID answers 200 with nothing done, as XNAT's handleDelete does.

* ``GET /data/search/{id}?offset=&limit=``: the results a ``POST /data/search?cache=true``
  kept, for the user who ran it alone (CachedSearchResource: another user's ID gives an
  empty table; an unknown one 410 Gone; an offset or limit that is not a number 422).

pyxnat's templates (``save_template``/``use_template``) are saved searches whose
``brief-description`` starts with ``template_``: nothing more is needed here.
A saved search one may not read answers 404, as an item one may not know of.
"""

from __future__ import annotations

from lxml import etree
from werkzeug.wrappers import Response

from ...xmlsafe import safe_parser
from ..backend import Verdict
from ..backend.saved import COLUMNS, SavedSearch
from ..bundles import parse_bundle
from ..representations import render_table, table_json
from .base import Ctx, HTTPError, forbidden, not_found
from .listing import table
from .search_run import answer

XDAT = "http://nrg.wustl.edu/security"
_Q = "{%s}" % XDAT


def _groups(ctx: Ctx) -> set[str]:
    """XNAT's group ids of the user: ``{project}_{role}`` for each project role."""
    return {f"{project}_{role}" for project, role in ctx.backend.access.roles(ctx.user).items()}


def saved_list(ctx: Ctx) -> Response:
    """``GET /data/search/saved``."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    saved = ctx.backend.saved_searches
    tag = ctx.param("includeTag")
    if tag is not None and tag != "true" and not saved.visible(ctx.user.login, _groups(ctx), tag):
        raise HTTPError(400, f"Unknown tag: {tag}")
    rows = saved.visible(ctx.user.login, _groups(ctx), tag)
    return table(ctx, rows, list(COLUMNS), "Stored Searches", always=())


def _readable(ctx: Ctx, search_id: str) -> SavedSearch:
    found = ctx.backend.saved_searches.get(search_id)
    if found is None or not ctx.backend.access.may_read_saved_search(found, ctx.user.login, _groups(ctx)):
        raise not_found(f"stored search {search_id}")
    return found


def _signed_in_get_format(ctx: Ctx) -> str:
    """The ``format=`` of a signed-in user's GET of search results (405, 401 and 400 otherwise)."""
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    fmt = (ctx.param("format") or "json").lower()
    if fmt not in ("json", "csv", "xml", "html"):
        raise HTTPError(400, f"Unsupported format: {fmt}")
    return fmt


def saved_results(ctx: Ctx, search_id: str) -> Response:
    """``GET /data/search/saved/{id}/results?format=...``."""
    fmt = _signed_in_get_format(ctx)
    return answer(ctx, _readable(ctx, search_id).bundle, fmt)


def saved_one(ctx: Ctx, search_id: str) -> Response:
    """``GET/PUT/DELETE /data/search/saved/{id}``."""
    ctx.require_login()
    if ctx.method == "GET":
        return Response(_readable(ctx, search_id).bundle, mimetype="text/xml")
    if ctx.method == "PUT":
        return _put(ctx, search_id)
    if ctx.method == "DELETE":
        return _delete(ctx, search_id)
    raise HTTPError(405, "Method Not Allowed")


def _put(ctx: Ctx, search_id: str) -> Response:
    body = ctx.request.get_data(cache=False)
    try:
        request = parse_bundle(body)
        root = etree.fromstring(body, safe_parser())
    except (ValueError, etree.XMLSyntaxError) as error:
        raise HTTPError(422, f"Not a stored search (xdat:bundle): {error}") from None
    if root.tag != _Q + "bundle":   # SavedSearchResource: an item that is not xdat:stored_search is 422
        raise HTTPError(422, "Not a stored search (xdat:bundle)")
    saved = ctx.backend.saved_searches
    existing = saved.get(search_id)
    login, groups = ctx.user.login, _groups(ctx)
    if existing is not None and not ctx.backend.access.on_saved_search(existing, login, groups):
        raise forbidden()
    users = [n.text.strip() for n in root.iterfind(f"{_Q}allowed_user/{_Q}login") if n.text and n.text.strip()]
    group_ids = [n.text.strip() for n in root.iterfind(f"{_Q}allowed_groups/{_Q}groupID") if n.text and n.text.strip()]
    if login not in users and not set(group_ids) & groups:
        users.append(login)   # the saver is always among the allowed users
        element = etree.SubElement(root, _Q + "allowed_user")
        etree.SubElement(element, _Q + "login").text = login
    root.set("ID", search_id)
    row = {"brief_description": root.get("brief-description", ""), "description": root.get("description", ""),
           "root_element_name": request.root_element_name,
           "secure": "1" if root.get("secure", "false").lower() in ("true", "1") else "0",
           "tag": root.get("tag", "")}
    saved.save(search_id, row, etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode(),
               users, group_ids)
    return Response(b"", status=200, mimetype="text/plain")


def _delete(ctx: Ctx, search_id: str) -> Response:
    saved = ctx.backend.saved_searches
    found = saved.get(search_id)
    if found is not None:   # handleDelete: an unknown ID answers 200 with nothing done
        verdict = saved.delete_as(found, ctx.user.login, _groups(ctx), ctx.user.admin)
        if verdict is Verdict.FORBIDDEN:
            raise forbidden()
        if verdict is Verdict.HIDDEN:
            raise not_found(f"stored search {search_id}")
    return Response(b"", status=200, mimetype="text/plain")


def _number(ctx: Ctx, name: str) -> int | None:
    text = ctx.param(name)
    if text is None:
        return None
    try:
        return max(int(text), 0)
    except ValueError:
        raise HTTPError(422, f"{name} must be a whole number, not {text!r}") from None


def cached(ctx: Ctx, search_id: str) -> Response:
    """``GET /data/search/{id}``: a page of a cached search's results."""
    fmt = _signed_in_get_format(ctx)
    offset, limit = _number(ctx, "offset") or 0, _number(ctx, "limit")
    found = ctx.backend.saved_searches.cached(search_id)
    if found is None:
        raise HTTPError(410, f"The cached search {search_id} is gone")
    rows = found.rows if found.login == ctx.user.login else []
    page = rows[offset:] if limit is None else rows[offset:offset + limit]
    if fmt == "json":
        body = table_json(page, None, found.columns, True, total_records=len(rows), meta={"ID": search_id})
        return Response(body, mimetype="application/json")
    payload, mimetype = render_table(page, [c["key"] for c in found.columns], fmt)
    return Response(payload, mimetype=mimetype.split(";")[0])
