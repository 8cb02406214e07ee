"""Table and item writers, and the item XML reader with hostile input."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from lxml import etree

from xnat.testing.datatypes import DataTypes
from xnat.testing.representations import (
    ItemNode,
    item_json,
    item_xml,
    parse_item_xml,
    render_table,
    table_csv,
    table_html,
    table_json,
    table_xml,
)

XNAT = "{http://nrg.wustl.edu/xnat}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


@pytest.fixture(scope="module")
def compact() -> DataTypes:
    return DataTypes.load()


ROWS = [
    {"ID": "P1", "name": "First, \"quoted\"", "description": "two\nlines", "URI": "/data/projects/P1"},
    {"ID": "P2", "name": "<b>&</b>", "description": None, "URI": "/data/projects/P2"},
]
NAMES = ["ID", "name", "description", "URI"]


# ====================================================================== table JSON


def test_table_json_key_order_and_meta_as_xnat_writes_them() -> None:
    body = table_json(ROWS, title="Projects")
    text = body.decode()
    assert text.startswith('{"ResultSet":{"Result":[{"ID":"P1",')
    assert text.endswith('], "totalRecords": "2","title": "Projects"}}')
    parsed = json.loads(body)
    assert list(parsed["ResultSet"]) == ["Result", "totalRecords", "title"]
    assert parsed["ResultSet"]["Result"][1]["description"] == ""
    assert all(isinstance(v, str) for row in parsed["ResultSet"]["Result"] for v in row.values())


def test_table_json_columns_come_first() -> None:
    columns = [{"key": "URI", "serverRoot": ""}]
    parsed = json.loads(table_json([{"Name": "a", "URI": "/x"}], "Files", columns, total=False))
    assert list(parsed["ResultSet"]) == ["Columns", "Result", "title"]
    assert parsed["ResultSet"]["Columns"] == columns


def test_table_json_without_meta() -> None:
    assert table_json([{"a": "1"}], total=False) == b'{"ResultSet":{"Result":[{"a":"1"}]}}'
    assert table_json([], total=False) == b'{"ResultSet":{"Result":[]}}'


def test_table_json_stringifies_every_value() -> None:
    parsed = json.loads(table_json([{"n": 5, "f": 1.5, "b": True, "none": None}]))
    assert parsed["ResultSet"]["Result"] == [{"n": "5", "f": "1.5", "b": "true", "none": ""}]
    assert parsed["ResultSet"]["totalRecords"] == "1"


def test_table_json_total_records_override_and_extra_meta() -> None:
    parsed = json.loads(table_json([{"a": "1"}], total_records=40, meta={"rootElementName": "x"}))
    assert parsed["ResultSet"]["totalRecords"] == "40"
    assert parsed["ResultSet"]["rootElementName"] == "x"


def test_table_json_escapes_and_keeps_unicode() -> None:
    body = table_json([{"name": 'é "q" \\ \u2028'}], title='T "1"')
    assert json.loads(body)["ResultSet"]["Result"][0]["name"] == 'é "q" \\ \u2028'
    assert json.loads(body)["ResultSet"]["title"] == 'T "1"'


# ====================================================================== CSV / XML / HTML


def test_table_csv_quotes_only_when_needed() -> None:
    body = table_csv(ROWS, NAMES).decode()
    assert body.splitlines()[0] == "ID,name,description,URI"
    assert '"First, ""quoted"""' in body
    assert '"two\nlines"' in body
    assert "P2,<b>&</b>,,/data/projects/P2\n" in body
    assert "\r" not in body and body.endswith("\n")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows[0]["name"] == 'First, "quoted"' and rows[1]["description"] == ""


def test_table_csv_missing_column_is_empty() -> None:
    assert table_csv([{"a": "1"}], ["a", "b"]) == b"a,b\n1,\n"


def test_table_xml() -> None:
    body = table_xml(ROWS, NAMES, title="Projects")
    root = etree.fromstring(body)
    assert root.tag == "ResultSet"
    assert root.get("totalRecords") == "2" and root.get("title") == "Projects"
    assert [c.text for c in root.find("results/columns")] == NAMES
    cells = [[c.text or "" for c in row] for row in root.find("results/rows")]
    assert cells[1] == ["P2", "<b>&</b>", "", "/data/projects/P2"]


def test_table_xml_drops_characters_xml_cannot_carry() -> None:
    root = etree.fromstring(table_xml([{"a": "x\x00y\x1b"}], ["a"], title="t\x01"))
    assert root.find("results/rows/row/cell").text == "xy"
    assert root.get("title") == "t"


def test_table_html_escapes() -> None:
    body = table_html(ROWS, NAMES, title="<Projects>").decode()
    assert "<th>ID</th>" in body and "&lt;b&gt;&amp;&lt;/b&gt;" in body
    assert "<title>&lt;Projects&gt;</title>" in body
    assert "<b>" not in body


@pytest.mark.parametrize("fmt,content_type", [("json", "application/json"), ("csv", "text/csv"),
                                              ("xml", "text/xml"), ("html", "text/html")])
def test_render_table(fmt: str, content_type: str) -> None:
    body, ctype = render_table(ROWS, ["URI", "ID"], fmt, title="Projects")
    assert ctype.split(";")[0] == content_type
    assert b"P2" in body and b"quoted" not in body      # projected onto the columns


def test_render_table_json_projects_rows_in_column_order() -> None:
    body, _ = render_table([{"b": "2", "a": "1", "c": "3"}], ["a", "b", "z"], "json")
    assert json.loads(body)["ResultSet"]["Result"] == [{"a": "1", "b": "2", "z": ""}]
    assert body.index(b'"a"') < body.index(b'"b"')


def test_render_table_without_column_names_uses_the_rows() -> None:
    body, _ = render_table([{"x": "1", "y": "2"}], None, "csv")
    assert body == b"x,y\n1,2\n"
    assert render_table([], None, "csv")[0] == b"\n"


@pytest.mark.parametrize("fmt", ["yaml", "", "JSON", "zip"])
def test_render_table_unknown_format(fmt: str) -> None:
    with pytest.raises(ValueError, match="format"):
        render_table(ROWS, NAMES, fmt)


# ====================================================================== item JSON


def _session() -> ItemNode:
    scan = ItemNode("xnat:mrScanData", {
        "ID": "1", "type": "T1", "frames": 176, "quality": "usable", "series_description": "t1 <mpr>",
        "parameters/voxelRes/x": 1.0, "parameters/tr": 2300.0, "scanner/manufacturer": "GE",
        "xnat_imagescandata_id": 3,
    }, children=[("file", [ItemNode("xnat:resourceCatalog", {
        "label": "DICOM", "URI": "/archive/P/S/SCANS/1/DICOM/cat.xml", "format": "DICOM",
        "file_count": 3, "file_size": 12345678901}, children=[
            ("tags/tag", [ItemNode("xnat:abstractResource_tag", {"tag": "BIDS", "name": "kind"})])])])])
    return ItemNode("xnat:mrSessionData", {
        "ID": "XNAT_E00001", "label": "S1_MR1", "project": "P", "date": "2001-01-01",
        "time": "14:23:50", "scanner": "GEMS", "scanner/manufacturer": "GE", "scanner/model": "750w",
        "fieldStrength": "3.0", "subject_ID": "XNAT_S00001", "note": "a & b < c", "modality": "MR",
        "internal_only": "x",
    }, meta={"start_date": "Tue Sep 15 16:13:33 AEST 2020", "create_event_id": 7},
        children=[
            ("sharing/share", [ItemNode("xnat:experimentData_share", {"project": "Q", "label": "S1_Q"})]),
            ("scans/scan", [scan]),
            ("fields/field", [ItemNode("xnat:experimentData_field", {"name": "weight", "field": "70"})]),
            ("resources/resource", []),
        ])


def test_item_json_shape() -> None:
    parsed = json.loads(item_json(_session()))
    assert list(parsed) == ["items"] and len(parsed["items"]) == 1
    item = parsed["items"][0]
    assert list(item) == ["children", "meta", "data_fields"]
    assert list(item["meta"]) == ["create_event_id", "xsi:type", "isHistory", "start_date"]
    assert item["meta"]["isHistory"] is False and item["meta"]["xsi:type"] == "xnat:mrSessionData"
    assert [c["field"] for c in item["children"]] == ["sharing/share", "scans/scan", "fields/field"]
    scan = item["children"][1]["items"][0]
    assert scan["data_fields"]["frames"] == 176 and scan["data_fields"]["ID"] == "1"
    assert scan["children"][0]["field"] == "file"
    resource = scan["children"][0]["items"][0]
    assert resource["data_fields"]["file_size"] == 12345678901
    assert resource["children"][0]["items"][0]["data_fields"]["tag"] == "BIDS"
    assert resource["children"][0]["items"][0]["children"] == []


def test_item_json_omits_none_and_keeps_history_flag() -> None:
    node = ItemNode("xnat:projectData", {"ID": "P", "name": None, "active": True},
                    meta={"isHistory": True, "end_date": None})
    item = json.loads(item_json(node))["items"][0]
    assert item["data_fields"] == {"ID": "P", "active": True}
    assert item["meta"] == {"xsi:type": "xnat:projectData", "isHistory": True}


def test_item_json_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError):
        item_json(ItemNode("xnat:mrScanData", {"parameters/tr": float("nan")}))


# ====================================================================== item XML


def test_item_xml_shape(compact: DataTypes) -> None:
    body = item_xml(_session(), compact, "http://localhost:8080/")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    root = etree.fromstring(body)
    assert root.tag == XNAT + "MRSession"
    assert root.nsmap["xnat"] == "http://nrg.wustl.edu/xnat" and root.nsmap["xsi"] == XSI[1:-1]
    location = root.get(XSI + "schemaLocation")
    assert "http://nrg.wustl.edu/xnat http://localhost:8080/schemas/xnat.xsd" in location
    assert {"ID", "label", "project", "modality"} <= set(root.attrib)
    assert "internal_only" not in body.decode()
    assert root.find(XNAT + "note").text == "a & b < c"
    scanner = root.find(XNAT + "scanner")
    assert scanner.text == "GEMS" and scanner.get("manufacturer") == "GE"
    share = root.find(f"{XNAT}sharing/{XNAT}share")
    assert share.get("project") == "Q" and share.get(XSI + "type") is None
    field = root.find(f"{XNAT}fields/{XNAT}field")
    assert field.get("name") == "weight" and field.text == "70"
    scan = root.find(f"{XNAT}scans/{XNAT}scan")
    assert scan.get(XSI + "type") == "xnat:mrScanData" and scan.get("ID") == "1"
    assert scan.find(f"{XNAT}parameters/{XNAT}voxelRes").get("x") == "1.0"
    assert scan.find(f"{XNAT}parameters/{XNAT}tr").text == "2300.0"
    assert scan.find(f"{XNAT}file").get(XSI + "type") == "xnat:resourceCatalog"
    assert scan.find(f"{XNAT}file/{XNAT}tags/{XNAT}tag").text == "BIDS"
    # Schema order: experimentData's elements before imageSession's, before mrSession's.
    order = [etree.QName(e).localname for e in root]
    assert order.index("date") < order.index("subject_ID") < order.index("scanner") \
        < order.index("scans") < order.index("fieldStrength")


def test_item_xml_round_trips(compact: DataTypes) -> None:
    node = _session()
    back = parse_item_xml(item_xml(node, compact, "http://x"), compact)
    assert back.xsi_type == node.xsi_type
    assert back.fields == {k: v for k, v in node.fields.items() if k != "internal_only"}
    back_scan = back.child_items("scans/scan")[0]
    assert back_scan.fields["frames"] == 176 and back_scan.fields["parameters/tr"] == 2300.0
    assert "xnat_imagescandata_id" not in back_scan.fields
    resource = back_scan.child_items("file")[0]
    assert resource.fields["file_size"] == 12345678901
    assert resource.child_items("tags/tag")[0].fields == {"tag": "BIDS", "name": "kind"}
    assert back.child_items("fields/field")[0].fields == {"name": "weight", "field": "70"}
    assert back.child_items("resources/resource") == []


def test_item_xml_of_a_type_without_root_element(compact: DataTypes) -> None:
    root = etree.fromstring(item_xml(ItemNode("xnat:resource", {"label": "R", "URI": "/u"}),
                                     compact, "http://x"))
    assert root.tag == XNAT + "resource" and root.get("label") == "R"


def test_item_xml_drops_illegal_characters(compact: DataTypes) -> None:
    root = etree.fromstring(item_xml(ItemNode("xnat:projectData", {"ID": "P", "name": "a\x00b\x07"}),
                                     compact, "http://x"))
    assert root.find(XNAT + "name").text == "ab"


# ====================================================================== parse_item_xml


SUBJECT = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
           b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat" '
           b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" label="S1" group="">'
           b'<!-- a comment --><?pi ignored?>'
           b'<xnat:demographics xsi:type="xnat:demographicData"><xnat:yob>1970</xnat:yob>'
           b'<xnat:weight units="kg">70.5</xnat:weight></xnat:demographics>'
           b'<xnat:fields><xnat:field name="a">1</xnat:field><xnat:field name="b">2</xnat:field>'
           b'</xnat:fields></xnat:Subject>')


def test_parse_item_xml(compact: DataTypes) -> None:
    node = parse_item_xml(SUBJECT, compact)
    assert node.xsi_type == "xnat:subjectData"
    assert node.fields == {"label": "S1"}           # empty group left out
    demographics = node.child_items("demographics")[0]
    assert demographics.xsi_type == "xnat:demographicData"
    assert demographics.fields == {"yob": 1970, "weight": 70.5, "weight/units": "kg"}
    assert [f.fields for f in node.child_items("fields/field")] == [
        {"field": "1", "name": "a"}, {"field": "2", "name": "b"}]


def test_parse_item_xml_accepts_utf16(compact: DataTypes) -> None:
    body = SUBJECT.replace(b'encoding="UTF-8"', b'encoding="UTF-16"').decode().encode("utf-16")
    assert parse_item_xml(body, compact).fields == {"label": "S1"}


def test_parse_item_xml_root_xsi_type_must_fit(compact: DataTypes) -> None:
    body = (b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" '
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xnat:subjectData"/>')
    with pytest.raises(ValueError, match="not a xnat:mrSessionData"):
        parse_item_xml(body, compact)


@pytest.mark.parametrize("body,reason", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<xnat:Subject", "malformed"),
    (b"<a><b></a>", "malformed"),
    (b"not xml at all", "malformed"),
    (b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat" label="&undefined;"/>', "malformed"),
    (b'<Subject label="x"/>', "unknown root element Subject"),
    (b'<xnat:Nope xmlns:xnat="http://nrg.wustl.edu/xnat"/>', "unknown root element xnat:Nope"),
    (b'<x:Subject xmlns:x="urn:other"/>', "unknown root element"),
    (b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat" bogus="1"/>', "unknown attribute bogus"),
    (b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat" xmlns:o="urn:o" o:label="1"/>',
     "unknown attribute label"),
    (b'<xnat:Subject xmlns:xnat="http://nrg.wustl.edu/xnat"><xnat:bogus/></xnat:Subject>',
     "unknown element bogus"),
    ((b'<xnat:MRScan xmlns:xnat="http://nrg.wustl.edu/xnat" ID="1"><xnat:frames>many</xnat:frames>'
     b'</xnat:MRScan>'), "frames"),
    ((b'<xnat:MRScan xmlns:xnat="http://nrg.wustl.edu/xnat" ID="1"><xnat:parameters>'
     b'<xnat:voxelRes x="wide"/></xnat:parameters></xnat:MRScan>'), "parameters/voxelRes/x"),
    (b'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="P" active="maybe"/>', "boolean"),
    ((b'<xnat:MRScan xmlns:xnat="http://nrg.wustl.edu/xnat" ID="1"><xnat:quality><xnat:x/>'
     b'</xnat:quality></xnat:MRScan>'), "holds a value"),
    ((b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" '
     b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><xnat:scans>'
     b'<xnat:scan xsi:type="xnat:subjectData" ID="1"/></xnat:scans></xnat:MRSession>'),
     "is not a xnat:imageScanData"),
    ((b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" '
     b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><xnat:scans>'
     b'<xnat:scan xsi:type="xnat:noSuchScan" ID="1"/></xnat:scans></xnat:MRSession>'),
     "unknown xsi:type"),
])
def test_parse_item_xml_bad_input(compact: DataTypes, body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_item_xml(body, compact)


def test_parse_item_xml_needs_bytes(compact: DataTypes) -> None:
    with pytest.raises(ValueError, match="bytes"):
        parse_item_xml("<xnat:Subject/>", compact)  # type: ignore[arg-type]


# ---------------------------------------------------------------- hostile input


def test_xxe_is_refused_and_never_read(compact: DataTypes, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>'
            f'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="P"><xnat:name>&s;</xnat:name>'
            f'</xnat:Project>').encode()
    with pytest.raises(ValueError, match="DTD") as info:
        parse_item_xml(body, compact)
    assert "TOP-SECRET" not in str(info.value)


def test_billion_laughs_never_expands(compact: DataTypes) -> None:
    entities = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    body = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY l0 "lol">{entities}]>'
            f'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="P">'
            f'<xnat:name>&l9;</xnat:name></xnat:Project>').encode()
    with pytest.raises(ValueError, match="DTD"):
        parse_item_xml(body, compact)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_doctype_in_other_encodings_is_refused(compact: DataTypes, codec: str) -> None:
    body = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>'
            '<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="&a;"/>').encode(codec)
    with pytest.raises(ValueError):
        parse_item_xml(body, compact)


def test_external_dtd_and_parameter_entities_are_refused(compact: DataTypes) -> None:
    for body in ((b'<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd"><xnat:Project '
                 b'xmlns:xnat="http://nrg.wustl.edu/xnat" ID="P"/>'),
                 b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><x/>'):
        with pytest.raises(ValueError, match="DTD"):
            parse_item_xml(body, compact)


def test_xinclude_is_not_processed(compact: DataTypes) -> None:
    body = (b'<xnat:Project xmlns:xnat="http://nrg.wustl.edu/xnat" ID="P" '
            b'xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd" parse="text"/>'
            b'</xnat:Project>')
    with pytest.raises(ValueError, match="unknown element include"):
        parse_item_xml(body, compact)


def test_deep_nesting_is_bounded(compact: DataTypes) -> None:
    body = b"<a>" * 100000 + b"</a>" * 100000
    with pytest.raises(ValueError, match="malformed"):
        parse_item_xml(body, compact)


def test_item_xml_lays_out_unknown_item_types_as_the_declared_type(compact: DataTypes) -> None:
    # A store may name a subject's share item "xnat:subjectData_share"; the schema says
    # the element is an xnat:projectParticipant, so its attributes still come out.
    node = ItemNode("xnat:subjectData", {"ID": "S1", "label": "s"}, children=[
        ("sharing/share", [ItemNode("xnat:subjectData_share", {"project": "Q", "label": "s_q"})])])
    root = etree.fromstring(item_xml(node, compact, "http://x"))
    share = root.find(f"{XNAT}sharing/{XNAT}share")
    assert share.get("project") == "Q" and share.get("label") == "s_q"
    assert share.get(XSI + "type") is None


def test_listing_rows_of_text_are_written_as_given_and_others_as_text() -> None:
    clean = [{"ID": f"E{i}", "label": f"L{i}"} for i in range(3)]
    body, _ = render_table(clean, ["ID", "label"], "json")
    assert json.loads(body)["ResultSet"]["Result"] == clean
    mixed = [{"ID": "E1", "n": 3, "ok": True, "gone": None}, {"ID": "E2"}]
    body, _ = render_table(mixed, ["ID", "n", "ok", "gone"], "json")
    assert json.loads(body)["ResultSet"]["Result"] == [{"ID": "E1", "n": "3", "ok": "true", "gone": ""},
                                                       {"ID": "E2", "n": "", "ok": "", "gone": ""}]
    reordered = [{"label": "L", "ID": "E"}]
    body, _ = render_table(reordered, ["ID", "label"], "json")
    assert body.decode().count('"ID":"E","label":"L"') == 1   # the asked column order, not the row's
