"""Tests of the query builder in xnat.search (no server: a fake session answers)."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from xnat import search
from xnat.exceptions import XNATResponseError, XNATValueError
from xnat.search import Query, SearchField, and_, or_

MR = "xnat:mrSessionData"


class MrSessionData:
    """A stand-in for a generated class: what Query needs from one."""

    __xsi_type__ = MR
    DEFAULT_SEARCH_FIELDS = ["id", "project", "subject_id"]
    FROM_SEARCH_URI = "{session_uri}/projects/{project}/subjects/{subject_id}/experiments/{session_id}"
    id = SearchField.schema(MR, "ID", "xs:string")
    project = SearchField.schema(MR, "project", "xs:string")
    subject_id = SearchField.schema(MR, "subject_ID", "xs:string")
    label = SearchField.schema(MR, "label", None)  # xnatpy's label carries no type
    PROJECT = SearchField(MR, "PROJECT", "xs:string")
    INSERT_DATE = SearchField(MR, "INSERT_DATE", "xs:string")
    custom_variables = search.SearchFieldMap(MR)


class FakeResponse:
    def __init__(self, text: str, status_code: int = 200) -> None:
        self.text = text
        self.status_code = status_code
        self.url = "http://xnat.test/data/search"
        self.request = type("R", (), {"method": "POST"})()


class FakeSession:
    """Answers /data/search with fixed text and records what it was sent."""

    fulluri = "/data/archive"

    def __init__(self, csv_text: str = "", json_text: str = "", status_code: int = 200) -> None:
        self.answers = {"csv": csv_text, "json": json_text}
        self.status_code = status_code
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.created: list[str] = []

    def post(self, path: str, query: dict[str, str], data: bytes) -> FakeResponse:
        self.calls.append((path, query, data))
        return FakeResponse(self.answers[query["format"]], self.status_code)

    def create_object(self, uri: str) -> tuple[str, str]:
        self.created.append(uri)
        return ("object", uri)


def recorded(reference: Path, name: str) -> bytes:
    return (reference / "responses" / "recorded" / "xnatpy-tests" / name).read_bytes()


# --- the recorded bundles ------------------------------------------------------------------

def query1() -> Query:
    return MrSessionData_query().filter(MrSessionData.label == "test").view(MrSessionData.PROJECT, MrSessionData.label)


def MrSessionData_query() -> Query:
    return Query(MrSessionData, None)


def test_recorded_query1_byte_identical(reference: Path) -> None:
    assert query1().to_string() == recorded(reference, "POST_data_search.request-body.query1.xml")


def test_recorded_query2_byte_identical(reference: Path) -> None:
    query = MrSessionData_query().filter(
        MrSessionData.PROJECT == "xnatpy_test_data",
        datetime.date(2026, 4, 8) <= MrSessionData.INSERT_DATE,
        datetime.datetime(2026, 4, 10, 13, 45) >= MrSessionData.INSERT_DATE,
    )
    assert query.to_string() == recorded(reference, "POST_data_search.request-body.query2.xml")


def test_recorded_query3_byte_identical(reference: Path) -> None:
    query = (
        MrSessionData_query()
        .filter(MrSessionData.PROJECT == "xnatpy_test_data", datetime.date(2026, 4, 8) <= MrSessionData.INSERT_DATE)
        .filter(datetime.date(2026, 4, 10) >= MrSessionData.INSERT_DATE)
    )
    assert query.to_string() == recorded(reference, "POST_data_search.request-body.query3.xml")


# --- building -------------------------------------------------------------------------------

def criteria(constraint: search.BaseConstraint) -> Any:
    """A constraint tree as nested tuples read back from its XML."""
    elem = etree.fromstring(constraint.to_string())
    return _tree(elem)


def _tree(elem: etree._Element) -> Any:
    name = etree.QName(elem).localname
    if name == "child_set":
        return (elem.get("method"), [_tree(child) for child in elem])
    ns = {"x": search.XDAT_NS}
    return tuple(elem.findtext(f"x:{n}", namespaces=ns) for n in ("schema_field", "comparison_type", "value"))


@pytest.mark.parametrize(
    ("build", "operator"),
    [
        (lambda f: f == 1, "="),
        (lambda f: f != 1, "!="),
        (lambda f: f > 1, ">"),
        (lambda f: f >= 1, ">="),
        (lambda f: f < 1, "<"),
        (lambda f: f <= 1, "<="),
        (lambda f: f.like(1), " LIKE "),
    ],
)
def test_comparisons(build: Any, operator: str) -> None:
    constraint = build(MrSessionData.label)
    assert criteria(constraint) == ("xnat:mrSessionData/label", operator, "1")


def test_reversed_comparison_uses_reflected_operator() -> None:
    # 3 < field is field > 3 in Python's reflection rules
    assert criteria(MrSessionData.label > 3) == ("xnat:mrSessionData/label", ">", "3")


def test_display_field_criterion_uses_type_path() -> None:
    assert criteria(MrSessionData.PROJECT == "P") == ("xnat:mrSessionData/PROJECT", "=", "P")


def test_and_or_operators_and_functions() -> None:
    a, b, c = MrSessionData.label == "a", MrSessionData.PROJECT == "b", MrSessionData.id.like("c%")
    assert criteria(a & b) == ("AND", [criteria(a), criteria(b)])
    assert criteria(a | b) == ("OR", [criteria(a), criteria(b)])
    assert criteria(or_(a, b, c)) == ("OR", [criteria(a), criteria(b), criteria(c)])
    assert criteria(and_(a, or_(b, c))) == ("AND", [criteria(a), ("OR", [criteria(b), criteria(c)])])
    # & keeps xnatpy's left-nesting, which shows in the bytes
    assert criteria(a & b & c) == ("AND", [("AND", [criteria(a), criteria(b)]), criteria(c)])


def test_dates_are_month_day_year() -> None:
    assert criteria(datetime.date(2021, 1, 2) < MrSessionData.INSERT_DATE)[2] == "01/02/2021"
    assert criteria(datetime.datetime(2021, 12, 31, 23, 59) < MrSessionData.INSERT_DATE)[2] == "12/31/2021"


def test_special_and_non_ascii_characters_escaped_as_xnatpy_does() -> None:
    text = (MrSessionData.label.like('é%<&>"')).to_string()
    assert b"<xdat:value>&#233;%&lt;&amp;&gt;\"</xdat:value>" in text
    assert criteria(MrSessionData.label.like('é%<&>"'))[2] == 'é%<&>"'


def test_empty_query_has_default_columns_and_empty_where() -> None:
    text = MrSessionData_query().to_string()
    assert text.endswith(b'<xdat:search_where method="AND" /></xdat:bundle>')
    ids = etree.fromstring(text).findall(".//{%s}field_ID" % search.XDAT_NS)
    assert [e.text for e in ids] == ["xnat:mrSessionData/ID", "xnat:mrSessionData/project", "xnat:mrSessionData/subject_ID"]


def test_empty_value_written_as_empty_element() -> None:
    assert b"<xdat:value />" in (MrSessionData.label == "").to_string()


def test_root_as_string_has_no_default_columns() -> None:
    query = Query("xnat:subjectData", None).view(SearchField("xnat:subjectData", "SUBJECT_LABEL"))
    root = etree.fromstring(query.to_string())
    assert root.findtext("{%s}root_element_name" % search.XDAT_NS) == "xnat:subjectData"
    assert root.findtext(".//{%s}type" % search.XDAT_NS) == "string"
    assert len(root.findall("{%s}search_field" % search.XDAT_NS)) == 1


def test_custom_variable_field() -> None:
    field = MrSessionData.custom_variables["MyVar"]
    assert field.field_id == "XNAT_MRSESSIONDATA_FIELD_MAP=myvar"
    assert criteria(field == 2) == ("xnat:mrSessionData/XNAT_MRSESSIONDATA_FIELD_MAP=myvar", "=", "2")


def test_duck_typed_field_from_another_module() -> None:
    class Descriptor:  # what a generated class's descriptor might return
        xsi_type = "xnat:subjectData"
        field_id = "xnat:subjectData/label"
        type = "xs:string"

    field = Descriptor()
    assert criteria(search.make_constraint(field, "=", "S1")) == ("xnat:subjectData/label", "=", "S1")
    text = Query("xnat:subjectData", None).view(field).to_string()
    assert b"<xdat:field_ID>xnat:subjectData/label</xdat:field_ID>" in text
    assert b"<xdat:type>xs:string</xdat:type>" in text

    class Mixed(search.SearchFieldMixin):
        xsi_type = "xnat:subjectData"
        field_id = "GENDER"

    assert criteria(Mixed() == "F") == ("xnat:subjectData/GENDER", "=", "F")


def test_xpath_only_fields_as_the_generated_classes_make_them() -> None:
    class PropertyField:  # xnat.classes.properties.SearchField: xsi_type, field_name, xpath, type
        __slots__ = ("field_name", "type", "xpath", "xsi_type")

        def __init__(self, xsi_type: str, field_name: str, type_: str = "xs:string") -> None:
            self.xsi_type, self.field_name, self.type = xsi_type, field_name, type_
            self.xpath = f"{xsi_type}/{field_name}"

    class WithOperators(search.SearchFieldMixin, PropertyField):
        __slots__ = ()

    plain = PropertyField(MR, "fieldStrength", "xs:float")
    text = Query(MR, None).view(plain).filter(search.make_constraint(plain, ">=", 1.5)).to_string()
    assert b"<xdat:field_ID>xnat:mrSessionData/fieldStrength</xdat:field_ID>" in text
    assert b"<xdat:type>xs:float</xdat:type>" in text
    assert b"<xdat:schema_field>xnat:mrSessionData/fieldStrength</xdat:schema_field>" in text
    rich = WithOperators(MR, "fieldStrength", "xs:float")
    assert criteria(rich.like("1.%")) == ("xnat:mrSessionData/fieldStrength", " LIKE ", "1.%")
    assert (rich == plain) is True and (rich == SearchField.schema(MR, "fieldStrength")) is True
    assert SearchField.schema(MR, "label").xpath == "xnat:mrSessionData/label"

    class NoPath:
        xsi_type = MR
        xpath = ""

    with pytest.raises(XNATValueError, match="not a search field"):
        Query(MR, None).view(NoPath())


def test_fields_compare_by_identity_and_hash() -> None:
    assert (MrSessionData.label == SearchField.schema(MR, "label")) is True
    assert (MrSessionData.label != MrSessionData.PROJECT) is True
    assert MrSessionData.label in [MrSessionData.PROJECT, MrSessionData.label]
    assert len({MrSessionData.label, SearchField.schema(MR, "label")}) == 1


def test_constraint_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match="&, \\|"):
        bool(MrSessionData.label == "a")
    with pytest.raises(TypeError):
        _ = (MrSessionData.label == "a") and (MrSessionData.PROJECT == "b")


def test_queries_are_immutable() -> None:
    base = MrSessionData_query()
    filtered = base.filter(MrSessionData.label == "x")
    viewed = filtered.view(MrSessionData.label)
    assert base.constraints is None and base.fields == ()
    assert filtered.fields == () and viewed.fields == (MrSessionData.label,)
    assert base.filter() is base and base.view() is base


# --- bad input ------------------------------------------------------------------------------

def test_bad_inputs_are_refused() -> None:
    with pytest.raises(XNATValueError, match="not a search field"):
        MrSessionData_query().view("label")
    with pytest.raises(XNATValueError, match="not a search constraint"):
        MrSessionData_query().filter("label = 'x'")  # type: ignore[arg-type]
    with pytest.raises(XNATValueError, match="not a search constraint"):
        and_(MrSessionData.label == "a", True)  # type: ignore[arg-type]
    with pytest.raises(XNATValueError, match="unknown comparison"):
        search.Constraint("xnat:mrSessionData/label", "; DROP", "x")
    with pytest.raises(XNATValueError, match="AND or OR"):
        search.CompoundConstraint([], "XOR")
    with pytest.raises(XNATValueError, match="no xsi type"):
        Query(object, None)
    with pytest.raises(XNATValueError, match="needs an xsi type"):
        SearchField("", "label")
    with pytest.raises(XNATValueError, match="not a search field"):
        search.make_constraint("label", "=", 1)


def test_control_characters_refused() -> None:
    with pytest.raises(XNATValueError, match="cannot put"):
        (MrSessionData.label == "a\x00b").to_string()


# --- execution against a fake session --------------------------------------------------------

def test_tabulate_csv_and_json_post_the_bundle(reference: Path) -> None:
    session = FakeSession(
        csv_text=recorded(reference, "POST_data_search_format-csv.response.csv").decode(),
        json_text=recorded(reference, "POST_data_search_format-json.response.json").decode(),
    )
    query = Query(MrSessionData, session).filter(MrSessionData.label == "test").view(MrSessionData.PROJECT, MrSessionData.label)
    assert query.tabulate_csv().startswith("project,xnat_col_mrsessiondatalabel")
    result = json.loads(query.tabulate_json())
    assert result["ResultSet"]["rootElementName"] == MR
    assert [call[:2] for call in session.calls] == [("/data/search", {"format": "csv"}), ("/data/search", {"format": "json"})]
    assert session.calls[0][2] == recorded(reference, "POST_data_search.request-body.query1.xml")


def test_tabulate_dict(reference: Path) -> None:
    session = FakeSession(csv_text=recorded(reference, "POST_data_search_format-csv.response.csv").decode())
    assert query_on(session).tabulate_dict() == [
        {"project": "sandbox", "xnat_col_mrsessiondatalabel": "test", "quarantine_status": "active"}
    ]


def test_tabulate_dict_quoted_values_and_one_column() -> None:
    session = FakeSession(csv_text='label,note\r\nA,"x, y"\r\nB,""\r\n')
    assert query_on(session).tabulate_dict() == [{"label": "A", "note": "x, y"}, {"label": "B", "note": ""}]
    # a single column: csv.Sniffer (xnatpy) cannot guess a delimiter here
    assert query_on(FakeSession(csv_text="label\nA\nB\n")).tabulate_dict() == [{"label": "A"}, {"label": "B"}]
    assert query_on(FakeSession(csv_text="")).tabulate_dict() == []
    assert query_on(FakeSession(csv_text="label,note\n")).tabulate_dict() == []


def test_tabulate_dict_malformed_row() -> None:
    with pytest.raises(XNATValueError, match="line 2"):
        query_on(FakeSession(csv_text="a\n1,2\n")).tabulate_dict()


def query_on(session: FakeSession) -> Query:
    return Query(MrSessionData, session)


ROWS = "session_id,project,subject_id\r\nE1,P,S1\r\nE2,P,S2\r\n"


def test_all_first_last_build_objects() -> None:
    session = FakeSession(csv_text=ROWS)
    objects = query_on(session).all()
    assert objects == [
        ("object", "/data/archive/projects/P/subjects/S1/experiments/E1"),
        ("object", "/data/archive/projects/P/subjects/S2/experiments/E2"),
    ]
    assert query_on(session).first() == objects[0]
    assert query_on(session).last() == objects[1]


def test_one_and_one_or_none() -> None:
    single = FakeSession(csv_text="SESSION_ID,PROJECT,SUBJECT_ID\nE1,P,S1\n")  # keys matched case-insensitively
    assert query_on(single).one() == ("object", "/data/archive/projects/P/subjects/S1/experiments/E1")
    assert query_on(single).one_or_none() == query_on(single).one()
    none = FakeSession(csv_text="session_id,project,subject_id\n")
    assert query_on(none).one_or_none() is None
    assert query_on(none).first() is None and query_on(none).last() is None
    assert query_on(none).all() == []
    with pytest.raises(XNATValueError, match="exactly one result \\(found 0\\)"):
        query_on(none).one()
    many = FakeSession(csv_text=ROWS)
    with pytest.raises(XNATValueError, match="found 2"):
        query_on(many).one()
    with pytest.raises(XNATValueError, match="found 2"):
        query_on(many).one_or_none()


def test_objects_need_the_uri_columns(reference: Path) -> None:
    session = FakeSession(csv_text=recorded(reference, "POST_data_search_format-csv.response.csv").decode())
    with pytest.raises(XNATValueError, match="no column 'subject_id'"):
        query_on(session).all()
    with pytest.raises(XNATValueError, match="cannot be built"):
        Query("xnat:subjectData", FakeSession(csv_text=ROWS)).all()
    assert session.created == []


def test_server_error_is_raised() -> None:
    session = FakeSession(csv_text="<html><h3>Unable to parse search</h3></html>", status_code=422)
    with pytest.raises(XNATResponseError, match="422") as info:
        query_on(session).tabulate_csv()
    assert info.value.status_code == 422


def test_query_without_session() -> None:
    with pytest.raises(XNATValueError, match="no session"):
        query_on(None).tabulate_csv()  # type: ignore[arg-type]


def test_tabulate_pandas_without_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ModuleNotFoundError, match="needs pandas"):
        query_on(FakeSession(csv_text=ROWS)).tabulate_pandas()


def test_tabulate_pandas() -> None:
    pytest.importorskip("pandas")
    frame = query_on(FakeSession(csv_text=ROWS)).tabulate_pandas()
    assert list(frame.columns) == ["session_id", "project", "subject_id"]
    assert list(frame["session_id"]) == ["E1", "E2"]


def test_import_does_not_need_pydicom_or_pandas() -> None:
    import subprocess

    code = "import sys; import xnat.search; assert 'pydicom' not in sys.modules and 'pandas' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
