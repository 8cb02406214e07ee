"""``session.inspect``: which data types and search fields the server has (xnatpy 0.8 API).

``datatypes("xnat:*Session*")`` lists the searchable types of ``/data/search/elements``;
``datafields("xnat:mrSessionData")`` the fields of one type from
``/data/search/elements/{type}``, without the parameterised ``=`` fields and the
sharing fields xnatpy leaves out. Patterns are shell-style (``fnmatch``).
"""

from __future__ import annotations

import fnmatch
from typing import Any

__all__ = ["Inspect"]


class Inspect:
    """Data types and search fields of the connected server."""

    def __init__(self, xnat_session: Any) -> None:
        self.xnat_session = xnat_session

    def __repr__(self) -> str:
        return f"<Inspect {getattr(self.xnat_session, 'server', '?')}>"

    def datatypes(self, pattern: str = "*", fields_pattern: str | None = None) -> list[str]:
        """Searchable data types matching ``pattern``; with ``fields_pattern`` their matching fields."""
        rows = self.xnat_session.get_json("/data/search/elements")["ResultSet"]["Result"]
        names = sorted({row["ELEMENT_NAME"] for row in rows if fnmatch.fnmatchcase(row["ELEMENT_NAME"], pattern)})
        if fields_pattern is None:
            return names
        return [field for name in names for field in self.datafields(name, fields_pattern, prepend_type=True)]

    def datafields(self, datatype: str, pattern: str = "*", prepend_type: bool = True) -> list[str]:
        """The search fields of ``datatype`` matching ``pattern`` (``type/FIELD`` with ``prepend_type``)."""
        rows = self.xnat_session.get_json(f"/data/search/elements/{datatype}")["ResultSet"]["Result"]
        found = []
        for row in rows:
            field = row["FIELD_ID"]
            if "=" in field or "SHARINGSHAREPROJECT" in field or not fnmatch.fnmatchcase(field, pattern):
                continue
            found.append(f"{datatype}/{field}" if prepend_type else field)
        return sorted(set(found))
