"""``Class.query()`` for the generated classes of a session, and their display fields.

:func:`install_search` gives every searchable generated class (projects, subjects,
experiments and their subtypes):

* ``query(*constraints)``: a :class:`xnat.services.search.Query` on the class, bound to the session;
* ``DEFAULT_SEARCH_FIELDS`` and ``FROM_SEARCH_URI``: the columns a query shows when none
  are chosen (xnatpy's: ``ID``, ``project``, ``subject_ID`` for experiments, so the bundle
  is the one xnatpy sends) and the URI template ``all()``/``first()``/``one()`` build
  objects from (xnatpy's templates);
* the server's display fields as class attributes (``MrSessionData.PROJECT``,
  ``MrSessionData.INSERT_DATE``), read from ``/data/search/elements/{type}`` the first
  time ``query()`` is used on the class (one request per class, not one per class at
  connect as xnatpy does), or at once with :func:`inject_search_fields`.

Display fields never replace an attribute the class already has.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from .search import BaseConstraint, Query, SearchField

__all__ = ["inject_search_fields", "install_search", "query_for"]

logger = logging.getLogger(__name__)

# (base type, default display columns, URI template from the lower-cased column keys)
# The templates and the experiments' default columns are xnatpy's, so the bundles are the
# bytes xnatpy sends; the server answers ID/project/subject_ID under their display-field
# names (session_id, project, subject_id; subjectid for subjects), as XNAT does.
_LEVELS = (
    ("xnat:projectData", ("ID",), "{session_uri}/projects/{id}"),
    ("xnat:subjectData", ("ID", "project"), "{session_uri}/projects/{project}/subjects/{subjectid}"),
    ("xnat:subjectAssessorData", ("ID", "project", "subject_ID"),
     "{session_uri}/projects/{project}/subjects/{subject_id}/experiments/{session_id}"),
)
_LOCK = threading.Lock()


def _level(cls: type, lookup: Mapping[str, type]) -> tuple[str, tuple[str, ...], str] | None:
    for base, fields, template in reversed(_LEVELS):  # most specific first
        base_cls = lookup.get(base)
        if getattr(cls, "__xsi_type__", "") == base or (base_cls is not None and issubclass(cls, base_cls)):
            return base, fields, template
    return None


def inject_search_fields(cls: type, session: Any) -> list[str]:
    """Add the server's display fields of ``cls`` as class attributes; the names added."""
    xsi_type = getattr(cls, "__xsi_type__", "")
    with _LOCK:
        if cls.__dict__.get("_search_fields_injected"):
            return []
    rows = session.get_json(f"/data/search/elements/{xsi_type}")["ResultSet"]["Result"]
    added = []
    with _LOCK:
        for row in rows:
            field_id = str(row.get("FIELD_ID", ""))
            if not field_id.isidentifier() or "=" in field_id or hasattr(cls, field_id):
                continue
            kind = str(row.get("TYPE") or "string")
            field = SearchField(xsi_type, field_id, kind if ":" in kind else f"xs:{kind}")
            field.__doc__ = _display_doc(row)
            setattr(cls, field_id, field)
            added.append(field_id)
        type.__setattr__(cls, "_search_fields_injected", True)
    return added


def _display_doc(row: dict[str, Any]) -> str:
    """A display field's docstring: the server's own header and description of it."""
    header = str(row.get("HEADER") or row.get("FIELD_ID") or "").strip()
    description = str(row.get("DESC") or row.get("SUMMARY") or "").strip()
    field_id = str(row.get("FIELD_ID") or "")
    same = description.lower() in (header.lower(), field_id.lower())
    lines = [f"{header}: {description}" if description and not same else header]
    lines.append(f"Display field {field_id} of {row.get('ELEMENT_NAME') or 'this type'}"
                 f" ({row.get('TYPE') or 'string'}), as /data/search/elements lists it.")
    return "\n".join(line for line in lines if line)


def query_for(cls: type, session: Any, *constraints: BaseConstraint) -> Query:
    """A query on ``cls`` (its display fields injected first)."""
    inject_search_fields(cls, session)
    return Query(cls, session).filter(*constraints)


class _QueryMethod:
    """``Class.query(*constraints)``: a descriptor, so it works on the class itself."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __get__(self, instance: Any, owner: type) -> Any:
        session = self._session

        def query(*constraints: BaseConstraint) -> Query:
            """A search on this data type; chain ``.filter(...)``, ``.view(...)``, ``.all()``."""
            return query_for(owner, session, *constraints)

        return query


def install_search(session: Any) -> None:
    """Give the session's generated classes ``query()`` and the search templates.

    With a namespace that builds its classes on first use, each class gets them when it
    is built; classes built already get them now.
    """
    lookup = getattr(session, "XNAT_CLASS_LOOKUP", None) or {}
    classes: Any = getattr(session, "classes", None)

    def install(cls: type) -> None:
        found = _level(cls, lookup)
        if found is None:
            return
        _, fields, template = found
        xsi_type = cls.__xsi_type__  # type: ignore[attr-defined]
        defaults = tuple(SearchField(xsi_type, f"{xsi_type}/{path}", "xs:string") for path in fields)
        type.__setattr__(cls, "query", _QueryMethod(session))
        type.__setattr__(cls, "DEFAULT_SEARCH_FIELDS", defaults)
        type.__setattr__(cls, "FROM_SEARCH_URI", template)

    if hasattr(classes, "on_build"):
        classes.on_build("search", install)
        return
    for cls in set(lookup.values()):
        install(cls)
