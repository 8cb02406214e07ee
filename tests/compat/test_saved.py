"""pyxnat's manage.search (saved searches, templates) and where(template=/query=) through
xnat.compat, against the embedded server's /data/search/saved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xnat.compat.pyxnat import Interface
from xnat.testing import XNATServer

COLUMNS = ["xnat:mrSessionData/LABEL", "xnat:mrSessionData/PROJECT"]


@pytest.fixture()
def x(server: XNATServer) -> Iterator[Interface]:
    interface = Interface(server=server.url, user="admin", password="admin")
    yield interface
    for name in interface.manage.search.saved():
        interface.manage.search.delete(name)
    for name in interface.manage.search.saved_templates():
        interface.manage.search.delete_template(name)
    interface.disconnect()


def test_save_list_get_delete(x: Interface) -> None:
    search = x.manage.search
    search.save("ses search", "xnat:mrSessionData", COLUMNS, [("xnat:mrSessionData/LABEL", "LIKE", "*ses*"), "AND"],
                description="sessions")
    assert search.saved() == ["ses_search"] and search.saved(True) == [("ses_search", "sessions")]
    table = search.get("ses_search")
    assert [row["label"] for row in table] == ["sub-001_ses-01"]
    query = search.get("ses_search", "query")
    assert query["row"] == "xnat:mrSessionData" and query["columns"] == COLUMNS
    assert query["users"] == ["admin"]   # "private": the saver alone may change it
    assert "<xdat:bundle" in search.get("ses_search", "xml")
    search.delete("ses_search")
    assert search.saved() == []


def test_where_query_runs_the_saved_constraints(x: Interface) -> None:
    x.manage.search.save("none", "xnat:mrSessionData", COLUMNS, [("xnat:mrSessionData/LABEL", "=", "nope"), "AND"])
    assert list(x.select("xnat:mrSessionData", COLUMNS).where(query="none")) == []
    x.manage.search.save("one", "xnat:mrSessionData", COLUMNS,
                         [[("xnat:mrSessionData/LABEL", "=", "nope"), ("xnat:mrSessionData/LABEL", "LIKE", "%ses%"),
                           "OR"], "AND"])
    assert [r["label"] for r in x.select("xnat:mrSessionData", COLUMNS).where(query="one")] == ["sub-001_ses-01"]


def test_templates(x: Interface) -> None:
    search = x.manage.search
    search.save_template("by label", "xnat:mrSessionData", COLUMNS, [("xnat:mrSessionData/LABEL", "=", "label"), "AND"])
    assert search.saved_templates() == ["by_label"] and search.saved() == []
    row, columns, constraints, _ = search.get_template("by_label")
    assert (row, columns) == ("xnat:mrSessionData", COLUMNS)
    assert "('xnat:mrSessionData/LABEL', '=', '%(label)s')" in repr(constraints)
    assert [r["label"] for r in search.use_template("by_label", {"label": "sub-001_ses-01"})] == ["sub-001_ses-01"]
    found = x.select("xnat:mrSessionData", COLUMNS).where(template=("by_label", {"label": "other"}))
    assert list(found) == []
    search.delete_template("by_label")
    assert search.saved_templates() == []
