"""Custom variables typed by the project's definitions (injected: the embedded server does
not serve ``studyProtocol`` definitions yet), and the untyped ``default`` group."""

from __future__ import annotations

import datetime

import pytest

import xnat
from xnat.exceptions import XNATKeyError, XNATValueError

from .conftest import RequestCounter


def item(data: dict, children: dict | None = None) -> dict:
    return {"data_fields": data, "meta": {}, "children": [
        {"field": path, "items": items} for path, items in (children or {}).items()]}


def protocol_for(project_id: str) -> dict:
    fields = [
        item({"name": "weight", "datatype": "integer"}),
        item({"name": "handed", "datatype": "string"},
             {"possibleValues/possibleValue": [item({"possibleValue": "left"}), item({"possibleValue": "right"})]}),
        item({"name": "consent", "datatype": "date"}),
    ]
    definition = item({"ID": "clinical"}, {"fields/field": fields})
    protocol = item({"ID": f"{project_id}_xnat_subjectData", "data-type": "xnat:subjectData"},
                    {"definitions/definition": [definition]})
    return item({"ID": project_id}, {"studyProtocol": [protocol]})


def test_typed_custom_variables(session, populated) -> None:
    project = session.projects["PROJ001"]
    project._cache["fulldata"] = protocol_for("PROJ001")
    subject = project.subjects["PROJ001_S00001"]
    variables = subject.custom_variables
    assert list(variables) == ["clinical"] and repr(variables) == "<CustomVariableMap (clinical)>"
    clinical = variables["clinical"]
    assert sorted(clinical) == ["consent", "handed", "weight"] and clinical["weight"] is None
    clinical["weight"] = 70
    clinical["handed"] = "left"
    clinical["consent"] = datetime.date(2020, 5, 6)
    assert clinical["weight"] == 70 and clinical["consent"] == datetime.date(2020, 5, 6)
    counter = RequestCounter().attach(session)
    with pytest.raises(XNATValueError, match="'both' is not one of the allowed values"):
        clinical["handed"] = "both"
    with pytest.raises(XNATValueError, match="weight.*xs:integer"):
        clinical["weight"] = "heavy"
    with pytest.raises(XNATKeyError, match="defines no 'height'"):
        clinical["height"] = 1
    with pytest.raises(XNATKeyError, match="no custom variable group 'other'"):
        variables["other"]
    assert counter.count == 0
    with xnat.connect(populated.url, user="admin", password="admin") as other:
        assert dict(other.subjects[subject.id].fields) == {"weight": "70", "handed": "left", "consent": "2020-05-06"}


def test_untyped_default_group(session) -> None:
    subject = session.projects["PROJ001"].subjects["PROJ001_S00002"]
    variables = subject.custom_variables
    assert list(variables) == ["default"]
    variables["default"]["note"] = "free text"
    assert variables["default"]["note"] == "free text" and list(variables["default"]) == ["note"]
    with pytest.raises(XNATKeyError, match="the project defines none"):
        variables["clinical"]
