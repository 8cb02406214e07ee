"""Search fields document themselves: schema fields with the schema's documentation, display
fields with the server's own header and description."""

from __future__ import annotations

from typing import Any

from xnat.services.search_classes import inject_search_fields


def test_a_schema_field_carries_its_schema_documentation(connection: Any) -> None:
    field = connection.classes.MrSessionData.label
    assert field.__doc__.startswith("Search field xnat:mrSessionData/label.")
    assert "Schema attribute 'label'" in field.__doc__ and "issue" not in field.__doc__
    assert "used in a query" in type(field).__doc__  # the class keeps its own docstring


def test_a_display_field_carries_the_servers_header_and_description(connection: Any) -> None:
    rows = [{"FIELD_ID": "NOTE_TEXT", "HEADER": "Note", "DESC": "Free text about the session", "TYPE": "string",
             "ELEMENT_NAME": "xnat:ctSessionData"}, {"FIELD_ID": "PLAIN", "HEADER": "Plain", "DESC": "PLAIN"}]
    cls = connection.classes.CtSessionData

    class Answer:
        def get_json(self, path: str) -> Any:
            return {"ResultSet": {"Result": rows}}

    added = inject_search_fields(cls, Answer())
    assert {"NOTE_TEXT", "PLAIN"} <= set(added)
    assert cls.NOTE_TEXT.__doc__.splitlines()[0] == "Note: Free text about the session"
    assert cls.PLAIN.__doc__.splitlines()[0] == "Plain"
    assert "/data/search/elements" in cls.NOTE_TEXT.__doc__
