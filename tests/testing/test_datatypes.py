"""DataTypes: reading the compact default schema set and the real XNAT set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lxml import etree

from xnat.testing.datatypes import DEFAULT_SCHEMAS_DIR, DataTypes, coerce_value


@pytest.fixture(scope="module")
def compact() -> DataTypes:
    return DataTypes.load()


@pytest.fixture(scope="module")
def real(reference_schemas: Path) -> DataTypes:
    return DataTypes.load(reference_schemas)


@pytest.fixture(scope="module")
def real_or_none(request: pytest.FixtureRequest) -> DataTypes | None:
    """The real set when XNAT_REFERENCE is set (failing if it is wrong), else None."""
    if not os.environ.get("XNAT_REFERENCE"):
        return None
    return DataTypes.load(request.getfixturevalue("reference_schemas"))


# ---------------------------------------------------------------- compact set


def test_compact_set_lists_its_files_as_xapi_schemas_does(compact: DataTypes) -> None:
    assert compact.schema_entries == ["birn/birnprov", "catalog", "xdat", "xnat"]
    assert compact.schema_file("xnat") == DEFAULT_SCHEMAS_DIR / "xnat" / "xnat.xsd"
    assert compact.schema_file("xnat/xnat") == DEFAULT_SCHEMAS_DIR / "xnat" / "xnat.xsd"
    assert compact.schema_file("nope") is None


def test_compact_set_namespaces_are_the_real_ones(compact: DataTypes) -> None:
    assert compact.namespaces() == {
        "xnat": "http://nrg.wustl.edu/xnat",
        "xdat": "http://nrg.wustl.edu/xdat",
        "cat": "http://nrg.wustl.edu/catalog",
        "prov": "http://www.nbirn.net/prov",
    }


@pytest.mark.parametrize("relpath", ["xnat/xnat.xsd", "xnat.xsd", "/xnat/xnat.xsd", "catalog.xsd"])
def test_find_schema_file(compact: DataTypes, relpath: str) -> None:
    found = compact.find_schema_file(relpath)
    assert found is not None and found.name == relpath.rsplit("/", 1)[-1]


@pytest.mark.parametrize("relpath", ["../datatypes.py", "xnat/../../datatypes.py", "/etc/passwd",
                                     "xnat", "", "xnat/missing.xsd", "xnat\\xnat.xsd"])
def test_find_schema_file_never_leaves_the_loaded_set(compact: DataTypes, relpath: str) -> None:
    assert compact.find_schema_file(relpath) is None


def test_compact_set_is_valid_xsd_for_a_real_reader() -> None:
    # A real XSD processor (libxml2) must accept it, imports included.
    schema = etree.XMLSchema(etree.parse(str(DEFAULT_SCHEMAS_DIR / "xnat" / "xnat.xsd")))
    doc = etree.fromstring(
        b'<xnat:MRSession xmlns:xnat="http://nrg.wustl.edu/xnat" ID="E1" label="x">'
        b'<xnat:scanner manufacturer="GE">s</xnat:scanner></xnat:MRSession>')
    assert schema.validate(doc)
    etree.XMLSchema(etree.parse(str(DEFAULT_SCHEMAS_DIR / "catalog" / "catalog.xsd")))


def test_compact_set_covers_the_core_model(compact: DataTypes) -> None:
    for name in ["xnat:projectData", "xnat:subjectData", "xnat:demographicData",
                 "xnat:experimentData", "xnat:subjectAssessorData", "xnat:imageSessionData",
                 "xnat:mrSessionData", "xnat:ctSessionData", "xnat:petSessionData",
                 "xnat:imageScanData", "xnat:mrScanData", "xnat:ctScanData", "xnat:petScanData",
                 "xnat:imageAssessorData", "xnat:qcAssessmentData", "xnat:reconstructedImageData",
                 "xnat:abstractResource", "xnat:resource", "xnat:resourceCatalog",
                 "cat:catalog", "cat:dcmCatalog", "cat:entry"]:
        assert compact.exists(name), name
    assert compact.root_element("xnat:mrSessionData") == "xnat:MRSession"
    assert compact.root_element("xnat:projectData") == "xnat:Project"
    assert compact.root_element("cat:catalog") == "cat:Catalog"
    assert compact.element_type("xnat:Subject") == "xnat:subjectData"


def test_compact_set_names_match_the_real_schema(compact: DataTypes, real: DataTypes) -> None:
    # Every type, base and field path of the compact set exists in real XNAT with the
    # same kind (attribute/element), so a client written for XNAT reads it the same way.
    for name in compact.datatypes():
        assert real.exists(name), name
        assert compact.base_of(name) == real.base_of(name), name
        for path in _paths(compact, name):
            mine, theirs = compact.field(name, path), real.field(name, path)
            assert theirs is not None, f"{name}/{path}"
            assert mine is not None and mine.kind == theirs.kind, f"{name}/{path}"
            assert compact.is_child(mine) == real.is_child(theirs), f"{name}/{path}"


def _paths(types: DataTypes, name: str, prefix: str = "", depth: int = 0) -> list[str]:
    paths = []
    fields = types.fields_of(name) if depth == 0 else []
    for found in fields:
        path = prefix + found.name
        paths.append(path)
        if found.nested is not None:
            paths.extend(prefix + found.name + "/" + p for p in _nested(found.nested))
    return paths


def _nested(typedef) -> list[str]:
    out = []
    for found in typedef.fields.values():
        out.append(found.name)
        if found.nested is not None:
            out.extend(found.name + "/" + p for p in _nested(found.nested))
    return out


# ---------------------------------------------------------------- real set


def test_real_set_loads_all_files(real: DataTypes) -> None:
    assert len(real.schema_entries) == 17
    for entry in ["xnat", "xdat", "xdat/display", "xdat/instance", "security", "catalog",
                  "project", "pipeline/workflow", "proc/subjProcData"]:
        assert entry in real.schema_entries
        assert real.schema_file(entry) is not None
    assert real.namespaces()["xdat"] == "http://nrg.wustl.edu/security"


def test_real_set_tolerates_misplaced_plugin_elements(real: DataTypes) -> None:
    # proc.xsd declares xs:element directly inside xs:extension.
    assert real.exists("proc:genProcData")
    assert real.is_a("proc:genProcData", "xnat:imageAssessorData")
    assert real.field_type("proc:genProcData", "memusedmb") == "xs:integer"


@pytest.mark.parametrize("xsi_type,path,expected", [
    ("xnat:mrSessionData", "fieldStrength", "xs:string"),
    ("xnat:mrSessionData", "scanner/manufacturer", "xs:string"),
    ("xnat:mrSessionData", "scanner", "xs:string"),
    ("xnat:mrSessionData", "label", "xs:string"),           # inherited from experimentData
    ("xnat:mrSessionData", "date", "xs:date"),
    ("xnat:mrSessionData", "xnat:experimentData/label", "xs:string"),
    ("xnat:mrSessionData", "xnat:mrSessionData/subject_ID", "xs:string"),
    ("xnat:subjectData", "demographics", "xnat:abstractDemographicData"),
    ("xnat:subjectData", "demographics/gender", "xs:string"),   # found in the subtype
    ("xnat:subjectData", "demographics[@xsi:type=xnat:demographicData]/yob", "xs:integer"),
    ("xnat:subjectData", "demographics/weight", "xs:float"),
    ("xnat:subjectData", "demographics/weight/units", "xs:string"),
    ("xnat:mrScanData", "parameters/voxelRes/x", "xs:float"),
    ("xnat:mrScanData", "parameters/fov/x", "xs:integer"),
    ("xnat:mrScanData", "frames", "xs:integer"),
    ("xnat:mrScanData", "parameters", "xs:anyType"),
    ("xnat:resourceCatalog", "file_size", "xs:long"),
    ("xnat:projectData", "PI/lastname", "xs:string"),
    ("xnat:projectData", "active", "xs:boolean"),
    ("xnat:experimentData", "fields/field/name", "xs:string"),
    ("xnat:mrSessionData", "nope", None),
    ("xnat:mrSessionData", "scanner/nope", None),
    ("xnat:mrSessionData", "", None),
    ("xnat:noSuchType", "label", None),
])
def test_field_type_on_both_sets(compact: DataTypes, real_or_none: DataTypes | None, xsi_type: str,
                                 path: str, expected: str | None) -> None:
    assert compact.field_type(xsi_type, path) == expected
    if real_or_none is not None:
        assert real_or_none.field_type(xsi_type, path) == expected


def test_inheritance(real: DataTypes) -> None:
    assert real.is_a("xnat:mrSessionData", "xnat:experimentData")
    assert real.is_a("xnat:mrSessionData", "xnat:mrSessionData")
    assert real.is_a("xnat:qcAssessmentData", "xnat:imageAssessorData")
    assert not real.is_a("xnat:projectData", "xnat:experimentData")
    assert not real.is_a("xnat:noSuchType", "xnat:experimentData")
    assert real.ancestors("xnat:mrScanData") == ["xnat:mrScanData", "xnat:imageScanData"]
    assert "xnat:mrSessionData" in real.subtypes("xnat:imageSessionData")
    assert real.canonical("XNAT:MRSESSIONDATA") == "xnat:mrSessionData"
    assert real.exists("xnat:mrsessiondata") and not real.exists("xnat:nothing")


def test_children_and_flattened_fields(real: DataTypes) -> None:
    scans = real.field("xnat:mrSessionData", "scans/scan")
    assert scans is not None and real.is_child(scans)
    assert real.child_type(scans) == "xnat:imageScanData"
    share = real.field("xnat:mrScanData", "sharing/share")
    assert share is not None and real.child_type(share) == "xnat:imageScanData_share"
    tag = real.field("xnat:resourceCatalog", "tags/tag")
    assert tag is not None and real.child_type(tag) == "xnat:abstractResource_tag"
    demographics = real.field("xnat:subjectData", "demographics")
    assert demographics is not None and real.is_child(demographics)
    scanner = real.field("xnat:mrSessionData", "scanner")
    assert scanner is not None and not real.is_child(scanner)


def test_schema_location_lists_flat_file_names(real: DataTypes) -> None:
    location = real.schema_location("https://xnat.example.org/")
    pairs = location.split()
    assert len(pairs) % 2 == 0
    assert "http://nrg.wustl.edu/xnat https://xnat.example.org/schemas/xnat.xsd" in location
    assert "//schemas" not in location


# ---------------------------------------------------------------- coerce


@pytest.mark.parametrize("path,value,expected", [
    ("frames", "176", 176),
    ("frames", " -3 ", -3),
    ("parameters/tr", "2300.5", 2300.5),
    ("parameters/tr", "1e3", 1000.0),
    ("parameters/tr", "7", 7.0),
    ("fieldStrength", "1.5", "1.5"),       # xs:string stays a string
    ("start_date", "2001-01-01", "2001-01-01"),
    ("startTime", "14:23:50", "14:23:50"),
    ("ID", "007", "007"),
    ("unknown_field", "12", "12"),
    ("frames", "", None),
])
def test_coerce(compact: DataTypes, path: str, value: str, expected: object) -> None:
    result = compact.coerce("xnat:mrScanData", path, value)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value,expected", [("true", True), ("1", True), ("false", False),
                                            ("0", False), ("TRUE", True)])
def test_coerce_boolean(compact: DataTypes, value: str, expected: bool) -> None:
    assert compact.coerce("xnat:projectData", "active", value) is expected


@pytest.mark.parametrize("path,value", [
    ("frames", "12.5"), ("frames", "twelve"), ("frames", "1_000"), ("frames", "0x10"),
    ("parameters/tr", "fast"), ("parameters/tr", "NaN"), ("parameters/tr", "inf"),
    ("parameters/tr", "1,5"),
])
def test_coerce_refuses_bad_numbers(compact: DataTypes, path: str, value: str) -> None:
    with pytest.raises(ValueError, match=path.rsplit("/", 1)[-1]):
        compact.coerce("xnat:mrScanData", path, value)


def test_coerce_refuses_bad_booleans(compact: DataTypes) -> None:
    with pytest.raises(ValueError, match="boolean"):
        compact.coerce("xnat:projectData", "active", "yes")


def test_coerce_value_needs_a_string() -> None:
    with pytest.raises(TypeError):
        coerce_value("xs:integer", 12)  # type: ignore[arg-type]


# ---------------------------------------------------------------- bad schema folders


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        DataTypes.load(tmp_path / "missing")


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no schemas"):
        DataTypes.load(tmp_path)


def test_malformed_schema(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.xsd").write_text("<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'>")
    with pytest.raises(ValueError, match="bad/bad.xsd"):
        DataTypes.load(tmp_path)


def test_schema_with_entities_is_not_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    (tmp_path / "evil").mkdir()
    (tmp_path / "evil" / "evil.xsd").write_text(
        f'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:e" '
        'xmlns:e="urn:e"><xs:complexType name="t"><xs:attribute name="a" type="xs:string">'
        '<xs:annotation><xs:documentation>&x;</xs:documentation></xs:annotation>'
        '</xs:attribute></xs:complexType></xs:schema>')
    types = DataTypes.load(tmp_path)
    assert types.datatypes() == ["e:t"]
    assert types.field_type("e:t", "a") == "xs:string"


def test_non_schema_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "a.xsd").write_text("<notaschema/>")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "b.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"/>')
    types = DataTypes.load(tmp_path)
    assert types.schema_entries == ["b"]
    assert types.schema_location("http://x") == ""
