"""pyxnat's ``manage.search``: saved searches and search templates on ``/data/search/saved``.

A saved search is an ``xdat:bundle`` PUT to ``/data/search/saved/{name}`` with its name as
``brief-description`` (spaces become ``_``, as pyxnat sends it); it is found again by that
name in ``GET /data/search/saved`` and read back by ID. A template is a saved search named
``template_{name}`` whose constraint values are ``%(field)s`` placeholders, filled in when
it is used. Sharing is pyxnat's: ``"private"`` (the saver only), ``"public"`` or a list of
logins, all sent as ``secure="false"`` with allowed users, so XNAT lists every such search to
all its users (SavedSearchListResource) while only its allowed users may change it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree

from ..criteria import SearchField
from ..services.search import Query
from .errors import DatabaseError
from .jsontable import JsonTable
from .search import TEMPLATE, Search, constraints_from, fill_template, query_of, saved_bundle, saved_id, saved_listing

__all__ = ["SearchManager"]

_Q = "{http://nrg.wustl.edu/security}"


def _placeholders(constraints: Any) -> Any:
    if isinstance(constraints, tuple):
        return (constraints[0], constraints[1], f"%({constraints[2]})s")
    if isinstance(constraints, list):
        return [_placeholders(item) for item in constraints]
    return constraints


class SearchManager:
    """``interface.manage.search``."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<SearchManager>"

    # -- saved searches -------------------------------------------------------------------
    def save(self, name: str, row: str, columns: Sequence[str], constraints: Any, sharing: Any = "private",
             description: str = "") -> None:
        """Save a search under ``name`` (pyxnat's arguments)."""
        name = name.replace(" ", "_")
        if sharing == "private":
            users = [str(self._session.logged_in_user)]
        elif sharing == "public":
            users = []
        elif isinstance(sharing, list):
            users = [str(u) for u in sharing]
        else:
            raise DatabaseError(f"Share mode {sharing} not valid")
        fields = []
        for column in columns:
            xsi_type, _, field = str(column).partition("/")
            fields.append(SearchField(xsi_type, field))
        bundle = Query(row, None, fields, constraints_from(constraints)).to_xml()
        bundle.set("ID", f"@{row}")
        bundle.set("brief-description", name)
        bundle.set("description", description)
        bundle.set("allow-diff-columns", "0")
        bundle.set("secure", "false")
        if users:
            allowed = etree.SubElement(bundle, _Q + "allowed_user")
            for login in users:
                etree.SubElement(allowed, _Q + "login").text = login
        body = etree.tostring(bundle, xml_declaration=True, encoding="UTF-8")
        self._session.put(f"/data/search/saved/{name}", data=body, query={"inbody": "true"})

    def saved(self, with_description: bool = False) -> list[Any]:
        """Names of the saved searches (without templates); with their descriptions."""
        rows = [r for r in saved_listing(self._session) if not r.get("brief_description", "").startswith(TEMPLATE)]
        if with_description:
            return [(r["brief_description"], r.get("description", "")) for r in rows]
        return [r["brief_description"] for r in rows]

    def get(self, name: str, out_format: str = "results") -> Any:
        """The saved search's results (a JsonTable), its XML (``"xml"``) or its query (``"query"``)."""
        if out_format == "xml":
            return saved_bundle(self._session, name)
        if out_format == "query":
            return query_of(saved_bundle(self._session, name))
        text = self._session.get(f"/data/search/saved/{saved_id(self._session, name)}/results", format="csv").text
        reader = csv.reader(io.StringIO(text))
        headers = next(reader, [])
        return JsonTable([dict(zip(headers, row)) for row in reader], headers=headers)

    def delete(self, name: str) -> None:
        """Remove the saved search from the server."""
        self._session.delete(f"/data/search/saved/{saved_id(self._session, name)}")

    # -- templates ------------------------------------------------------------------------
    def save_template(self, name: str, row: str | None = None, columns: Sequence[str] = (),
                      constraints: Any = (), sharing: Any = "private", description: str = "") -> None:
        """Save a search whose constraint values are placeholders named after themselves."""
        self.save(TEMPLATE + name, str(row), columns, _placeholders(list(constraints)), sharing, description)

    def saved_templates(self, with_description: bool = False) -> list[Any]:
        rows = [r for r in saved_listing(self._session) if r.get("brief_description", "").startswith(TEMPLATE)]
        names = [r["brief_description"][len(TEMPLATE):] for r in rows]
        if with_description:
            return [(n, r.get("description", "")) for n, r in zip(names, rows)]
        return names

    def get_template(self, name: str, as_xml: bool = False) -> Any:
        """The template as XML, or (row, columns, constraints, description)."""
        bundle = saved_bundle(self._session, TEMPLATE + name)
        if as_xml:
            return bundle
        query = query_of(bundle)
        return (query["row"], query["columns"], query["constraints"], query["description"])

    def use_template(self, name: str, values: Mapping[str, Any]) -> JsonTable:
        """Run a template with its placeholders filled from ``values``."""
        row, columns, constraints, _ = self.get_template(name)
        return Search(self._session, row, columns).where(fill_template(constraints, values))

    def delete_template(self, name: str) -> None:
        self.delete(TEMPLATE + name)
