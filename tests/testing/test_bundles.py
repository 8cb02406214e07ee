"""Tests of xnat.testing.bundles: reading xdat:bundle search documents."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from xnat import search
from xnat.testing import bundles
from xnat.testing.bundles import CriteriaGroup, Criterion, SearchColumn, SearchRequest, parse_bundle

MR = "xnat:mrSessionData"
NS = 'xmlns:xdat="http://nrg.wustl.edu/security"'


def wrap(body: str, root: str = MR) -> bytes:
    return f"<xdat:bundle {NS}><xdat:root_element_name>{root}</xdat:root_element_name>{body}</xdat:bundle>".encode()


def crit(field: str, op: str, value: str) -> str:
    return (
        '<xdat:criteria override_value_formatting="0">'
        f"<xdat:schema_field>{field}</xdat:schema_field><xdat:comparison_type>{op}</xdat:comparison_type>"
        f"<xdat:value>{value}</xdat:value></xdat:criteria>"
    )


def col(element: str, field_id: str, sequence: str | None = "0") -> str:
    seq = "" if sequence is None else f"<xdat:sequence>{sequence}</xdat:sequence>"
    return (
        f"<xdat:search_field><xdat:element_name>{element}</xdat:element_name><xdat:field_ID>{field_id}</xdat:field_ID>"
        f"{seq}<xdat:type>string</xdat:type><xdat:header>h</xdat:header></xdat:search_field>"
    )


def recorded(reference: Path, n: int) -> bytes:
    return (reference / "responses/recorded/xnatpy-tests" / f"POST_data_search.request-body.query{n}.xml").read_bytes()


def request_body(reference: Path, name: str) -> bytes:
    return (reference / "responses/request-bodies/xnat-rest-tests" / name).read_bytes()


DEFAULT_COLUMNS = (
    SearchColumn(MR, "xnat:mrSessionData/ID", "url", "xs:string", 0),
    SearchColumn(MR, "xnat:mrSessionData/project", "url", "xs:string", 1),
    SearchColumn(MR, "xnat:mrSessionData/subject_ID", "url", "xs:string", 2),
)
PROJECT_IS = Criterion("xnat:mrSessionData/PROJECT", "=", "xnatpy_test_data")
AFTER = Criterion("xnat:mrSessionData/INSERT_DATE", ">=", "04/08/2026")
BEFORE = Criterion("xnat:mrSessionData/INSERT_DATE", "<=", "04/10/2026")


# --- the recorded xnatpy bundles --------------------------------------------------------------

def test_recorded_query1(reference: Path) -> None:
    assert parse_bundle(recorded(reference, 1)) == SearchRequest(
        root_element_name=MR,
        columns=(
            SearchColumn(MR, "PROJECT", "url", "xs:string", 0),
            SearchColumn(MR, "xnat:mrSessionData/label", "url", "None", 1),
        ),
        where=CriteriaGroup("AND", (Criterion("xnat:mrSessionData/label", "=", "test"),)),
    )


def test_recorded_query2(reference: Path) -> None:
    assert parse_bundle(recorded(reference, 2)) == SearchRequest(
        root_element_name=MR,
        columns=DEFAULT_COLUMNS,
        where=CriteriaGroup("AND", (CriteriaGroup("AND", (PROJECT_IS, AFTER, BEFORE)),)),
    )


def test_recorded_query3(reference: Path) -> None:
    inner = CriteriaGroup("AND", (PROJECT_IS, AFTER))
    assert parse_bundle(recorded(reference, 3)) == SearchRequest(
        root_element_name=MR,
        columns=DEFAULT_COLUMNS,
        where=CriteriaGroup("AND", (CriteriaGroup("AND", (inner, BEFORE)),)),
    )
    assert parse_bundle(recorded(reference, 3)).where.criteria() == [PROJECT_IS, AFTER, BEFORE]


def test_column_keys_match_the_recorded_response(reference: Path) -> None:
    # POST_data_search_format-json.response.json answers query1 with these ids and keys
    columns = parse_bundle(recorded(reference, 1)).columns
    assert [c.column_id for c in columns] == ["PROJECT", "XNAT_COL_MRSESSIONDATALABEL"]
    assert [c.key for c in columns] == ["project", "xnat_col_mrsessiondatalabel"]
    assert [c.is_schema_path for c in columns] == [False, True]
    assert [c.schema_path for c in columns] == ["xnat:mrSessionData/PROJECT", "xnat:mrSessionData/label"]
    assert SearchColumn(MR, "SCAN_COUNT_TYPE=T1").key == "scan_count_type_t1"
    assert SearchColumn(MR, "xnat:mrSessionData/sharing/share/label").column_id == "XNAT_COL_MRSESSIONDATASHARINGSHARELABEL"


# --- XNAT's own stored searches ---------------------------------------------------------------

def test_default_project_mr_session_search(reference: Path) -> None:
    request = parse_bundle(request_body(reference, "search_default_project_mr_session_search.xml"))
    assert request.root_element_name == MR
    assert request.bundle_id == "%PROJECT_ID%_xnat:mrSessionData"
    assert request.description == "MR Sessions"
    assert [(c.element_name, c.field_id, c.type, c.header, c.sequence) for c in request.columns] == [
        (MR, "MR_PROJECT_IDENTIFIER=%PROJECT_ID%", "string", "MR ID", 0),
        (MR, "DATE", "date", "Date", 1),
        ("xnat:subjectData", "SUB_PROJECT_IDENTIFIER=%PROJECT_ID%", "string", "Subject", 2),
        (MR, "AGE", "float", "Age", 3),
        (MR, "SCANNER", "string", "Scanner", 4),
        (MR, "MR_SCAN_COUNT_AGG", "string", "Scans", 5),
    ]
    assert request.columns[0].value == "%PROJECT_ID%" and request.columns[1].value is None
    assert request.where == CriteriaGroup(
        "AND",
        (
            CriteriaGroup(
                "OR",
                (
                    Criterion("xnat:mrSessionData/sharing/share/project", "=", "%PROJECT_ID%"),
                    Criterion("xnat:mrSessionData/PROJECT", "=", "%PROJECT_ID%"),
                ),
            ),
        ),
    )
    first = request.where.criteria()[0]
    assert (first.element_name, first.field_path) == (MR, "sharing/share/project")


def test_default_site_subject_search(reference: Path) -> None:
    request = parse_bundle(request_body(reference, "search_default_site_subject_search.xml"))
    assert request.root_element_name == "xnat:subjectData"
    assert [c.field_id for c in request.columns] == ["SUBJECT_LABEL", "GENDER", "HANDEDNESS", "DOB", "EDUC", "SES", "MR_COUNT"]
    assert [c.type for c in request.columns] == ["string", "string", "string", "integer", "integer", "integer", "integer"]
    assert request.where == CriteriaGroup("AND", ())  # no search_where at all


def test_mrsession_search_with_schema_location(reference: Path) -> None:
    request = parse_bundle(request_body(reference, "search_mrsession_search.xml"))
    assert [(c.element_name, c.field_id) for c in request.columns][3:5] == [
        ("xnat:subjectData", "SUBJECT_LABEL"),
        ("xnat:subjectData", "GENDER_TEXT"),
    ]
    assert [c.sequence for c in request.columns] == list(range(9))
    assert [c.header for c in request.columns][:3] == ["Label", "Project", "Date"]


# --- other producers ----------------------------------------------------------------------------

def test_round_trip_from_the_query_builder() -> None:
    label = search.SearchField.schema(MR, "label", "xs:string")
    date = search.SearchField(MR, "DATE", "xs:date")
    query = (
        search.Query(MR, None)
        .filter(search.or_(label.like("%a%"), label != "b"), date > datetime.date(2020, 5, 6))
        .view(label, date)
    )
    request = parse_bundle(query.to_string())
    assert request.columns == (SearchColumn(MR, "xnat:mrSessionData/label", "url", "xs:string", 0),
                               SearchColumn(MR, "DATE", "url", "xs:date", 1))
    assert request.where == CriteriaGroup("AND", (CriteriaGroup("AND", (
        CriteriaGroup("OR", (Criterion("xnat:mrSessionData/label", "LIKE", "%a%"),
                             Criterion("xnat:mrSessionData/label", "!=", "b"))),
        Criterion("xnat:mrSessionData/DATE", ">", "05/06/2020"),
    )),))


def test_pyxnat_bundle() -> None:
    pyxnat_search = pytest.importorskip("pyxnat.core.search")
    document = pyxnat_search.build_search_document(
        "xnat:subjectData",
        ["xnat:subjectData/label", "xnat:subjectData/PROJECT"],
        [("xnat:subjectData/label", "LIKE", "S*"), [("xnat:subjectData.GENDER", "=", "F"), ("xnat:subjectData/AGE", ">", "40"), "OR"], "AND"],
    )
    request = parse_bundle(document)
    assert request.bundle_id == "@xnat:subjectData"
    assert [(c.field_id, c.schema_path) for c in request.columns] == [
        ("label", "xnat:subjectData/label"),
        ("PROJECT", "xnat:subjectData/PROJECT"),
    ]
    assert request.where == CriteriaGroup("AND", (
        Criterion("xnat:subjectData/label", "LIKE", "S%"),
        CriteriaGroup("OR", (Criterion("xnat:subjectData.GENDER", "=", "F"), Criterion("xnat:subjectData/AGE", ">", "40"))),
    ))
    assert request.where.criteria()[1].field_path == "GENDER"


def test_text_input_columns_sorted_and_several_wheres() -> None:
    text = wrap(
        col(MR, "B", "1") + col(MR, "A", "0") + col(MR, "C", None)
        + '<xdat:search_where method="or">' + crit("xnat:mrSessionData/label", "like", "x") + "</xdat:search_where>"
        + "<xdat:search_where>" + crit("xnat:mrSessionData/ID", "  is   not ", "NULL") + "</xdat:search_where>"
        + "<xdat:sort_by><xdat:element_name>xnat:mrSessionData</xdat:element_name></xdat:sort_by>"
    ).decode()
    request = parse_bundle(text)
    # C has no sequence: its position (2) is used
    assert [c.field_id for c in request.columns] == ["A", "B", "C"]
    assert request.where == CriteriaGroup("AND", (
        CriteriaGroup("OR", (Criterion("xnat:mrSessionData/label", "LIKE", "x"),)),
        CriteriaGroup("AND", (Criterion("xnat:mrSessionData/ID", "IS NOT", "NULL"),)),
    ))


def test_empty_value_and_override_flag() -> None:
    body = ('<xdat:search_where><xdat:criteria override_value_formatting="1"><xdat:schema_field>xnat:mrSessionData/label'
            "</xdat:schema_field><xdat:comparison_type>=</xdat:comparison_type><xdat:value /></xdat:criteria></xdat:search_where>")
    (item,) = parse_bundle(wrap(body)).where.items
    assert item == Criterion("xnat:mrSessionData/label", "=", "", True)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"not xml at all", "not well-formed"),
        (b"<xdat:bundle " + NS.encode() + b"><xdat:root_element_name>", "not well-formed"),
        (b"<bundle><root_element_name>xnat:mrSessionData</root_element_name></bundle>", "xdat namespace"),
        (f"<xdat:search {NS}/>".encode(), "expected xdat:bundle"),
        (f"<xdat:bundle {NS}/>".encode(), "no xdat:root_element_name"),
        (wrap("", root=""), "not a data type"),
        (wrap("", root="mrSessionData"), "not a data type"),
        (wrap("<xdat:root_element_name>xnat:subjectData</xdat:root_element_name>"), "2 xdat:root_element_name"),
        (wrap(col(MR, "")), "empty field_ID"),
        (wrap(col("nonsense", "LABEL")), "not a data type"),
        (wrap(col(MR, "LABEL", "first")), "not an integer"),
        (wrap("<xdat:search_field><xdat:field_ID>X</xdat:field_ID></xdat:search_field>"), "no xdat:element_name"),
        (wrap("<xdat:search_where>" + crit("xnat:mrSessionData/label", "DROP TABLE", "x") + "</xdat:search_where>"), "unknown comparison_type"),
        (wrap("<xdat:search_where>" + crit("label", "=", "x") + "</xdat:search_where>"), "not a field"),
        (wrap("<xdat:search_where>" + crit("xnat:mrSessionData", "=", "x") + "</xdat:search_where>"), "not a field"),
        (wrap('<xdat:search_where method="XOR"></xdat:search_where>'), "neither AND nor OR"),
        (wrap("<xdat:search_where><xdat:search_field/></xdat:search_where>"), "unexpected xdat:search_field"),
        (wrap("<xdat:search_where><other/></xdat:search_where>"), "xdat namespace"),
        (wrap("<xdat:search_where>" + crit("xnat:mrSessionData/label", "<b>=</b>", "x") + "</xdat:search_where>"), "must hold text"),
        (wrap("<xdat:search_field><xdat:element_name><b/></xdat:element_name></xdat:search_field>"), "must hold text"),
    ],
)
def test_malformed_bundles_are_refused(document: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_bundle(document)


def test_wrong_input_type() -> None:
    with pytest.raises(ValueError, match="not int"):
        parse_bundle(42)  # type: ignore[arg-type]


def test_nesting_and_size_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    deep = "<xdat:child_set>" * (bundles.MAX_DEPTH + 2) + "</xdat:child_set>" * (bundles.MAX_DEPTH + 2)
    with pytest.raises(ValueError, match="nested more than"):
        parse_bundle(wrap(f"<xdat:search_where>{deep}</xdat:search_where>"))
    with pytest.raises(ValueError, match="larger than"):
        parse_bundle(wrap("<!--" + "x" * bundles.MAX_BUNDLE_BYTES + "-->"))
    monkeypatch.setattr(bundles, "MAX_ITEMS", 3)
    with pytest.raises(ValueError, match="more than 3 columns"):
        parse_bundle(wrap(col(MR, "A") * 4))


# --- hostile XML ----------------------------------------------------------------------------------

def test_external_entity_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    document = (
        f'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY e SYSTEM "file://{secret}">]>'
        f"<xdat:bundle {NS}><xdat:root_element_name>xnat:a&e;</xdat:root_element_name></xdat:bundle>"
    ).encode()
    with pytest.raises(ValueError, match="DTD") as info:
        parse_bundle(document)
    assert "TOP-SECRET" not in str(info.value)


def test_external_dtd_is_refused_without_network() -> None:
    document = (
        '<?xml version="1.0"?><!DOCTYPE b SYSTEM "http://192.0.2.1/evil.dtd">'
        f"<xdat:bundle {NS}><xdat:root_element_name>{MR}</xdat:root_element_name></xdat:bundle>"
    ).encode()
    with pytest.raises(ValueError, match="DTD"):
        parse_bundle(document)


def test_billion_laughs_is_refused() -> None:
    entities = '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10)
    )
    document = (
        f'<?xml version="1.0"?><!DOCTYPE b [{entities}]>'
        f"<xdat:bundle {NS}><xdat:root_element_name>&l9;</xdat:root_element_name></xdat:bundle>"
    ).encode()
    # libxml2 may stop it (amplification limit) before our DTD check does; refused either way
    with pytest.raises(ValueError, match="DTD|entity amplification"):
        parse_bundle(document)


def test_parameter_entities_are_refused() -> None:
    document = (
        '<?xml version="1.0"?><!DOCTYPE b [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
        f"<xdat:bundle {NS}><xdat:root_element_name>{MR}</xdat:root_element_name></xdat:bundle>"
    ).encode()
    with pytest.raises(ValueError):
        parse_bundle(document)


def test_undeclared_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="not well-formed"):
        parse_bundle(wrap("", root="xnat:a&e;"))
