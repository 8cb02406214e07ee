"""Our writers against every real recording: same keys, value types and nesting.

Each recording under ``responses/recorded/`` that is a listing row, a listing or an item is
rebuilt with :mod:`xnat.testing.representations` from the data it holds, the way the
server's store hands that data over (strings typed by the real schema with
``DataTypes.coerce``; the store's own numeric row ids as ints), and the two are compared
by shape. Every request-body XML under ``responses/request-bodies/`` (and the recorded
ones) must parse with ``parse_item_xml`` against the real schema set.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from lxml import etree

from xnat.testing.datatypes import DataTypes
from xnat.testing.representations import (
    ItemNode,
    item_json,
    item_xml,
    parse_item_xml,
    table_csv,
    table_json,
)

# The store's own numeric keys (xnat_imagescandata_id, xnat_abstractResource_tag_id...)
# are JSON numbers in item JSON; they are not schema fields.
_ROW_ID = re.compile(r"^xnat_\w+_id$", re.IGNORECASE)


@pytest.fixture(scope="module")
def recorded(reference: Path) -> Path:
    return reference / "responses" / "recorded"


@pytest.fixture(scope="module")
def real(reference_schemas: Path) -> DataTypes:
    return DataTypes.load(reference_schemas)


def shape(value: object) -> object:
    """Keys, value types and nesting of a JSON value, without the values."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        shapes = []
        for item in value:
            if shape(item) not in shapes:
                shapes.append(shape(item))
        return shapes
    return type(value).__name__


def parse_js_object(text: str) -> dict[str, str]:
    """A JavaScript object literal as printed by node's console.log (single quotes)."""
    pairs = re.findall(r"""(?:'([^']+)'|([A-Za-z_][\w]*))\s*:\s*'((?:[^'\\]|\\.)*)'""", text)
    assert pairs, "no key: value pairs found"
    return {quoted or bare: value for quoted, bare, value in pairs}


# ====================================================================== listings


@pytest.mark.parametrize("name", [
    "GET_data_experiments_E_scans.Result-row.js-object.txt",
    "GET_data_projects_P_subjects.Result-row.js-object.txt",
    "GET_data_projects_P_subjects_S_experiments.Result-row.js-object.txt",
])
def test_listing_rows(recorded: Path, name: str) -> None:
    row = parse_js_object((recorded / "brainlife-warehouse" / name).read_text())
    body = json.loads(table_json([row], title="t"))
    ours = body["ResultSet"]["Result"][0]
    assert shape(ours) == shape(row)
    assert all(isinstance(v, str) for v in ours.values())
    assert list(body["ResultSet"]) == ["Result", "totalRecords", "title"]


def test_listing_json_without_meta_byte_for_byte(recorded: Path) -> None:
    raw = (recorded / "xnat-wiki-docs16-central" / "GET_REST_config_anon_format-json.json").read_bytes()
    parsed = json.loads(raw)
    rebuilt = table_json(parsed["ResultSet"]["Result"], total=False)
    assert rebuilt == raw.rstrip(b"\n")
    assert shape(json.loads(rebuilt)) == shape(parsed)


def test_listing_json_with_columns_and_meta_byte_for_byte(recorded: Path) -> None:
    raw = (recorded / "xnatpy-tests" / "POST_data_search_format-json.response.json").read_bytes()
    parsed = json.loads(raw)
    result_set = parsed["ResultSet"]
    rebuilt = table_json(result_set["Result"], columns=result_set["Columns"],
                         meta={"rootElementName": result_set["rootElementName"]})
    assert rebuilt == raw
    assert list(json.loads(rebuilt)["ResultSet"]) == list(result_set)


def test_listing_csv_byte_for_byte(recorded: Path) -> None:
    raw = (recorded / "xnatpy-tests" / "POST_data_search_format-csv.response.csv").read_bytes()
    reader = csv.DictReader(io.StringIO(raw.decode()))
    assert table_csv(list(reader), list(reader.fieldnames or [])) == raw


def test_listing_csv_older_style_same_rows(recorded: Path) -> None:
    # The older export quotes every string; ours quotes only when needed (commons-lang
    # escapeCsv). Same header, same rows, same cells once read by a CSV reader.
    raw = (recorded / "pyxnat-tests" / "search_results.format-csv.csv").read_text()
    reader = csv.DictReader(io.StringIO(raw))
    names = list(reader.fieldnames or [])
    rows = list(reader)
    ours = list(csv.DictReader(io.StringIO(table_csv(rows, names).decode())))
    assert ours == rows and len(rows) > 100


# ====================================================================== items


def rebuild(item: dict, datatypes: DataTypes) -> ItemNode:
    """An ItemNode as the store would hand it over: stored strings, typed by the schema."""
    xsi_type = item["meta"]["xsi:type"]
    fields: dict[str, object] = {}
    for key, value in item["data_fields"].items():
        if _ROW_ID.match(key):
            fields[key] = int(value)
        else:
            fields[key] = datatypes.coerce(xsi_type, key, str(value))
    meta = {k: v for k, v in item["meta"].items() if k not in ("xsi:type", "isHistory")}
    children = [(child["field"], [rebuild(sub, datatypes) for sub in child["items"]])
                for child in item["children"]]
    return ItemNode(xsi_type, fields, meta, children)


def assert_item_shape(ours: dict, theirs: dict) -> None:
    assert list(ours) == list(theirs) == ["children", "meta", "data_fields"]
    assert list(ours["meta"]) == list(theirs["meta"])
    assert shape(ours["meta"]) == shape(theirs["meta"])
    assert shape(ours["data_fields"]) == shape(theirs["data_fields"])
    assert [c["field"] for c in ours["children"]] == [c["field"] for c in theirs["children"]]
    for mine, recorded_child in zip(ours["children"], theirs["children"]):
        assert list(mine) == list(recorded_child) == ["field", "items"]
        assert len(mine["items"]) == len(recorded_child["items"])
        for a, b in zip(mine["items"], recorded_child["items"]):
            assert_item_shape(a, b)


def test_scan_item_json(recorded: Path, real: DataTypes) -> None:
    raw = json.loads((recorded / "brainlife-warehouse" /
                      "GET_data_experiments_E_scans_9_format-json.items-array.json").read_text())
    theirs = raw[0]
    ours = json.loads(item_json(rebuild(theirs, real)))["items"][0]
    assert_item_shape(ours, theirs)
    # The typing that matters to clients: IDs stay strings, counts and sizes are numbers.
    assert ours["data_fields"]["ID"] == "9"
    resource = ours["children"][0]["items"][0]["data_fields"]
    assert isinstance(resource["file_count"], int) and isinstance(resource["file_size"], int)


def test_experiment_item_json(recorded: Path, real: DataTypes) -> None:
    raw = json.loads((recorded / "xnatpy-tests" / "GET_data_experiments_E_format-json.response.json")
                     .read_text())
    assert list(raw) == ["items"]
    theirs = raw["items"][0]
    ours = json.loads(item_json(rebuild(theirs, real)))["items"][0]
    assert_item_shape(ours, theirs)
    assert ours["data_fields"]["fieldStrength"] == "1.5"      # xs:string in the schema


def xml_shape(elem: etree._Element) -> tuple:
    """Tag, attribute names (xsi:schemaLocation aside) and child shapes, in order."""
    attrs = sorted(k for k in elem.attrib if not k.endswith("}schemaLocation"))
    return (elem.tag, tuple(attrs), bool((elem.text or "").strip()),
            tuple(xml_shape(child) for child in elem if isinstance(child.tag, str)))


def test_session_item_xml(recorded: Path, real: DataTypes) -> None:
    raw = (recorded / "pyxnat-tests" / "MRSession.format-xml.trimmed.xml").read_bytes()
    theirs = etree.fromstring(raw)
    body = item_xml(parse_item_xml(raw, real), real, "https://xnat.example.org")
    ours = etree.fromstring(body)
    assert xml_shape(ours) == xml_shape(theirs)
    assert ours.nsmap["xnat"] == theirs.nsmap["xnat"] and ours.nsmap["xsi"] == theirs.nsmap["xsi"]
    # Every namespace the recording lists has its schema location in ours.
    ours_location = ours.get("{http://www.w3.org/2001/XMLSchema-instance}schemaLocation").split()
    listed = set(ours_location[0::2])
    for namespace in ["http://nrg.wustl.edu/xnat", "http://nrg.wustl.edu/catalog",
                      "http://nrg.wustl.edu/security", "http://www.nbirn.net/prov"]:
        assert namespace in listed


# ====================================================================== request bodies


def _bodies(reference: Path) -> list[Path]:
    found = sorted((reference / "responses" / "request-bodies").glob("**/*.xml"))
    found += sorted((reference / "responses" / "recorded").glob("**/*request-body*.xml"))
    return found


def normalized(node: ItemNode) -> tuple:
    children = sorted((path, tuple(normalized(item) for item in items)) for path, items in node.children)
    return node.xsi_type, sorted(node.fields.items()), tuple(children)


EXPECTED_ROOT_TYPES = {
    "event_service_sample_xml_sample_project.xml": "xnat:projectData",
    "event_service_sample_xml_sample_session.xml": "xnat:mrSessionData",
    "event_service_sample_xml_sample_subject.xml": "xnat:subjectData",
    "qc_with_prov.xml": "xnat:qcAssessmentData",
    "test_expt_v1.xml": "xnat:mrSessionData",
    "test_project_v1.xml": "xnat:projectData",
    "test_subject_v1.xml": "xnat:subjectData",
}


def test_every_request_body_parses_with_the_real_schemas(reference: Path, real: DataTypes) -> None:
    bodies = _bodies(reference)
    assert len(bodies) >= 13
    for path in bodies:
        node = parse_item_xml(path.read_bytes(), real)
        expected = EXPECTED_ROOT_TYPES.get(path.name, "xdat:stored_search")
        assert node.xsi_type == expected, path.name
        # What we read, we can write back, and read again to the same thing.
        # Children come back in schema order, so compare them per path.
        again = parse_item_xml(item_xml(node, real, "http://localhost"), real)
        assert normalized(again) == normalized(node), path.name


def test_request_bodies_content(reference: Path, real: DataTypes) -> None:
    folder = reference / "responses" / "request-bodies" / "xnat-rest-tests"
    session = parse_item_xml((folder / "event_service_sample_xml_sample_session.xml").read_bytes(), real)
    scans = session.child_items("scans/scan")
    assert [s.xsi_type for s in scans] == ["xnat:mrScanData", "xnat:mrScanData", "xnat:otherDicomScanData"]
    assert scans[0].fields == {"ID": "1", "type": "LOCALIZER", "quality": "usable"}
    project = parse_item_xml((folder / "test_project_v1.xml").read_bytes(), real)
    assert project.child_items("PI")[0].fields["lastname"] == "Marcus"
    assert [p.xsi_type for p in project.child_items("studyProtocol")] == ["xnat:datatypeProtocol"] * 2
    subject = parse_item_xml((folder / "test_subject_v1.xml").read_bytes(), real)
    assert subject.child_items("demographics")[0].fields["education"] == 12
    qc = parse_item_xml((folder / "qc_with_prov.xml").read_bytes(), real)
    step = qc.child_items("provenance")[0].child_items("processStep")[0]
    assert step.fields["program"] == "recon-all -all" and step.fields["program/arguments"] == "-s -all"


@pytest.mark.parametrize("name", ["event_service_sample_xml_sample_project.xml", "qc_with_prov.xml",
                                  "event_service_sample_xml_sample_session.xml",
                                  "event_service_sample_xml_sample_subject.xml",
                                  "test_expt_v1.xml", "test_project_v1.xml", "test_subject_v1.xml"])
def test_item_bodies_parse_with_the_compact_schemas_too(reference: Path, real: DataTypes,
                                                        name: str) -> None:
    body = (reference / "responses" / "request-bodies" / "xnat-rest-tests" / name).read_bytes()
    assert parse_item_xml(body, DataTypes.load()) == parse_item_xml(body, real)
