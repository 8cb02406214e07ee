"""XNAT's search fields: the display documents (``<dir>/display/*_display.xml``) read as data.

Every data type XNAT searches has a display document (``Displays``) whose ``DisplayField``
entries are the fields ``/data/search/elements/{type}`` advertises and a search names as
columns and criteria (``GENDER``, ``MR_COUNT``, ``PROJECT_OWNERS``...). A field takes its value
from schema paths (``DisplayFieldElement schema-element="xnat:demographicData.gender"``), a
count of another type (``xdat-type="COUNT"``), one of XNAT's SQL views (``viewName``), or a
sub-query; an SQL ``Content`` may combine them (``'/archive/subjects/' || @Field1``).

The server ships a compact table of these fields (``display_fields.json``) for its own
schema set, generated from XNAT's documents by ``python -m xnat.testing.displayfields
DISPLAY_DIR``; a schema folder served with a ``display`` folder beside it
(``$XNAT_REFERENCE/schemas`` and ``$XNAT_REFERENCE/display``) is read directly instead.
Nothing read from a document is executed: :func:`evaluate` understands the few SQL forms
the documents use and falls back to the first field's value for the rest.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from lxml import etree

from ..xmlsafe import safe_parser

__all__ = ["SHIPPED_TABLE", "DisplayField", "DisplayTable", "ElementDisplay", "evaluate", "read_documents",
           "shipped_text"]

#: The compact table shipped for the server's default schema set.
SHIPPED_TABLE = Path(__file__).parent / "display_fields.json"
_FORMAT = 1
_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


@dataclass(frozen=True)
class DisplayField:
    """One ``DisplayField`` of a display document, as plain data."""

    id: str
    header: str
    type: str                       # the document's data-type ("string" when it names none)
    searchable: bool                # advertised by /data/search/elements/{type}
    sources: tuple[tuple[str, str, str], ...] = ()   # (name, kind, target): kind is path|count|view
    sql: str = ""                   # the Content expression, "" when the field is its one source
    subquery: bool = False          # xsi:type="SubQueryField": per-project values XNAT computes in SQL

    @property
    def summary(self) -> str:
        """XNAT's SUMMARY column: the first schema path, else the header."""
        paths = [target for _, kind, target in self.sources if kind == "path"]
        return paths[0] if paths else self.header


def _schema_path(text: str) -> str:
    """``xnat:subjectData.meta.insert_date`` -> ``xnat:subjectData/meta/insert_date``."""
    prefix, _, rest = text.partition(":")
    return prefix + ":" + rest.replace(".", "/")


def _field(node: etree._Element) -> DisplayField:
    sources = []
    for element in node.findall("DisplayFieldElement"):
        name = element.get("name", "")
        if element.get("viewName"):
            sources.append((name, "view", f"{element.get('viewName')}.{element.get('viewColumn', '')}"))
        elif element.get("xdat-type", "").upper() == "COUNT":
            sources.append((name, "count", element.get("schema-element", "")))
        elif element.get("schema-element"):
            sources.append((name, "path", _schema_path(element.get("schema-element", ""))))
    content = node.find("Content")
    # a field names itself searchable="false" to stay off the list; no attribute means listed, as the
    # default bundles use such fields (GENDER, MR_COUNT in search_default_site_subject_search.xml)
    return DisplayField(
        id=node.get("id", ""), header=node.get("header", ""), type=node.get("data-type", "string"),
        searchable=node.get("searchable", "true").lower() != "false", sources=tuple(sources),
        sql=(content.text or "").strip() if content is not None else "",
        subquery=node.get(_XSI_TYPE) == "SubQueryField")


@dataclass(frozen=True)
class ElementDisplay:
    """The display document of one data type: its fields and its ``listing`` columns."""

    element: str
    fields: tuple[DisplayField, ...]
    listing: tuple[tuple[str, str], ...]   # (element, field id): the default columns of a search


def _document(path: Path) -> ElementDisplay | None:
    root = etree.parse(str(path), safe_parser()).getroot()
    if root.tag != "Displays" or not root.get("schema-element"):
        return None
    element = root.get("schema-element", "")
    fields = tuple(_field(node) for node in root.findall("DisplayField"))
    listing: tuple[tuple[str, str], ...] = ()
    for version in root.findall("DisplayVersion"):
        if version.get("versionName") == "listing":
            listing = tuple((ref.get("element_name") or element, ref.get("id", ""))
                            for ref in version.findall("DisplayFieldRef"))
    return ElementDisplay(element, fields, listing)


def read_documents(folder: Path) -> dict[str, ElementDisplay]:
    """Every display document under ``folder`` (``*/display/*.xml``), by data type."""
    out: dict[str, ElementDisplay] = {}
    for path in sorted(Path(folder).glob("*/display/*.xml")):
        found = _document(path)
        if found is not None:
            out.setdefault(found.element, found)
    return out


def _to_json(displays: dict[str, ElementDisplay]) -> str:
    body = {name: {"fields": [asdict(f) for f in d.fields], "listing": [list(r) for r in d.listing]}
            for name, d in sorted(displays.items())}
    return json.dumps({"format": _FORMAT, "types": body}, indent=1, sort_keys=True) + "\n"


def _from_json(text: str) -> dict[str, ElementDisplay]:
    data = json.loads(text)
    if data.get("format") != _FORMAT:
        raise ValueError(f"display field table has format {data.get('format')!r}, expected {_FORMAT}")
    out = {}
    for name, body in data["types"].items():
        fields = tuple(DisplayField(**{**f, "sources": tuple(tuple(s) for s in f["sources"])})
                       for f in body["fields"])
        out[name] = ElementDisplay(name, fields, tuple((e, i) for e, i in body["listing"]))
    return out


class DisplayTable:
    """The display fields of the types a server serves; a type without a document uses its
    nearest base type's (XNAT's abstract types have none)."""

    def __init__(self, displays: dict[str, ElementDisplay]) -> None:
        self.displays = displays

    @classmethod
    def for_schemas(cls, schemas_dir: Path | None) -> DisplayTable:
        """The documents beside a schema folder (``<schemas>/../display``), else the shipped table."""
        if schemas_dir is not None and (Path(schemas_dir).parent / "display").is_dir():
            return cls(read_documents(Path(schemas_dir).parent / "display"))
        return cls(_from_json(SHIPPED_TABLE.read_text(encoding="utf-8")))

    def display(self, ancestors: list[str]) -> ElementDisplay | None:
        """The document of the first of ``ancestors`` (a type, then its bases) that has one."""
        return next((self.displays[name] for name in ancestors if name in self.displays), None)


# -- the SQL of Content -------------------------------------------------------------------------
_CASE = re.compile(r"CASE\s+(LOWER\()?\s*@(\w+)\s*\)?\s+(.*?)\s*END", re.IGNORECASE | re.DOTALL)
_WHEN = re.compile(r"WHEN\s+('[^']*'|\S+)\s+THEN\s+('[^']*'|@\w+)", re.IGNORECASE)
_ELSE = re.compile(r"ELSE\s+('[^']*'|@\w+)", re.IGNORECASE)
_COALESCE = re.compile(r"COALESCE\(\s*(@\w+(?:\s*,\s*@\w+)*)\s*\)", re.IGNORECASE)
_CONCAT = re.compile(r"('[^']*'|@\w+)(\s*\|\|\s*('[^']*'|@\w+))+")


def _term(term: str, values: dict[str, str]) -> str:
    term = term.strip()
    if term.startswith("'"):
        return term.strip("'")
    return values.get(term.lstrip("@"), "")


def evaluate(sql: str, values: dict[str, str]) -> str:
    """The value of a Content expression over its fields' values (``Field1`` -> "male").

    Understood: ``a || b`` concatenation of literals and fields, ``COALESCE(@F1, @F2)``,
    ``CASE [LOWER(]@F[)] WHEN 'x' THEN 'y' ... [ELSE ...] END``. Anything else (casts,
    date arithmetic, sub-query columns) gives the first non-empty field value, which is
    what those expressions read (XNAT runs them in PostgreSQL; we run no SQL from a document).
    """
    text = sql.strip()
    if _CONCAT.fullmatch(text):
        return "".join(_term(t, values) for t in re.split(r"\s*\|\|\s*", text))
    coalesce = _COALESCE.fullmatch(text)
    if coalesce:
        return next((v for t in coalesce.group(1).split(",") if (v := _term(t, values))), "")
    case = _CASE.fullmatch(text)
    if case:
        subject = values.get(case.group(2), "")
        if case.group(1):
            subject = subject.lower()
        for when, then in _WHEN.findall(case.group(3)):
            if when.strip("'") == subject:
                return _term(then, values)
        other = _ELSE.search(case.group(3))
        return _term(other.group(1), values) if other else ""
    return next((v for v in values.values() if v), "")


def main(argv: list[str]) -> int:
    """``python -m xnat.testing.displayfields DISPLAY_DIR``: regenerate the shipped table for the
    default schema set from XNAT's display documents."""
    if len(argv) != 1:
        sys.stderr.write("usage: python -m xnat.testing.displayfields DISPLAY_DIR\n")
        return 2
    SHIPPED_TABLE.write_text(shipped_text(Path(argv[0])), encoding="utf-8")
    return 0


def shipped_text(display_dir: Path) -> str:
    """What the shipped table should hold, read from ``display_dir`` (for the test that compares)."""
    from .datatypes import DataTypes

    served = set(DataTypes.load().datatypes())
    return _to_json({k: v for k, v in read_documents(display_dir).items() if k in served})


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
