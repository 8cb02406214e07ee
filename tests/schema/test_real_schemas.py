"""The full real XNAT schema set (17 files) and the xnatpy fixture variants: read and build."""

from __future__ import annotations

import datetime
import warnings
from pathlib import Path

import pytest

from xnat.classes.base import XNATBaseObject
from xnat.classes.factory import build_classes
from xnat.classes.properties import ChildProperty, FieldProperty, SearchField
from xnat.exceptions import XNATValueError
from xnat.schema.model import SchemaModel, XNATSchemaWarning
from xnat.schema.xsd import read_schemas

pytestmark = pytest.mark.reference


def test_every_real_schema_is_read(real_model: SchemaModel) -> None:
    counts = {info.name: info.type_count for info in real_model.schemas}
    assert len(counts) == 17
    assert all(count > 0 for count in counts.values()), counts
    assert counts["xnat"] == 299
    assert len(real_model.types) == 517
    assert real_model.notes == []


def test_prefixes_come_from_the_parser(real_model: SchemaModel) -> None:
    prefixes = {info.name: info.prefix for info in real_model.schemas}
    # security.xsd binds "xdat" to its own namespace; catalog is cat:, project is arc:.
    assert prefixes["security"] == "xdat"
    assert prefixes["catalog"] == "cat"
    assert prefixes["project"] == "arc"
    assert prefixes["pipeline/workflow"] == "wrk"
    assert prefixes["xdat/instance"] == ""  # no targetNamespace
    assert "xdat:user" in real_model.types and "cat:catalog" in real_model.types


def test_plugin_schema_with_misplaced_elements_is_read(real_model: SchemaModel) -> None:
    # proc.xsd puts xs:element straight inside xs:extension, as the DAX plugin ships it.
    proc = real_model.types["proc:genProcData"]
    assert proc.base == "xnat:imageAssessorData"
    names = {field.name: field for field in proc.fields}
    assert {"procstatus", "memusedmb", "jobstartdate", "inputs", "dax_version_hash"} <= set(names)
    assert names["memusedmb"].type == "xs:integer"
    assert names["inputs"].facets.max_length == 10000
    assert names["scans"].type == "proc:genProcData/scans"


def test_anonymous_types_carry_their_namespace(real_model: SchemaModel) -> None:
    params = real_model.types["xnat:mrScanData/parameters"]
    assert params.anonymous and params.parent == "xnat:mrScanData" and params.prefix == "xnat"
    assert "cat:catalog/metaFields" in real_model.types
    assert "xnat:mrScanData/parameters/voxelRes" in real_model.types


def test_xdat_annotations_and_documentation(real_model: SchemaModel) -> None:
    project = real_model.types["xnat:projectData"]
    assert real_model.elements["xnat:Project"] == "xnat:projectData"
    assert real_model.elements["xnat:MRSession"] == "xnat:mrSessionData"
    experiment = real_model.types["xnat:experimentData"]
    assert experiment.display_identifiers == ["label"]
    assert project.fields, "projectData has fields"
    documented = [f for t in real_model.types.values() for f in t.fields if f.doc]
    assert len(documented) > 100
    assert all(" ".join(f.doc.split()) == f.doc for f in documented)  # whitespace collapsed
    subject = {f.name: f for f in real_model.types["xnat:subjectData"].fields}
    assert subject["project"].xdat["baseElement"] == "xnat:projectData"
    assert subject["group"].xdat == {"sqlField.name": "_group"}
    unique = [f for t in real_model.types.values() for f in t.fields if f.xdat.get("unique") == "true"]
    assert unique, "xdat:field unique annotations are kept"


def test_classes_named_and_inherited_as_xnatpy(real_classes) -> None:
    mr = real_classes.MrSessionData
    chain = [cls.__name__ for cls in mr.__mro__ if "__xsi_type__" in cls.__dict__]  # schema classes, not mixins
    assert chain[:4] == ["MrSessionData", "ImageSessionData", "SubjectAssessorData", "ExperimentData"]
    assert issubclass(mr, XNATBaseObject)
    assert mr.__xsi_type__ == "xnat:mrSessionData"
    for name in ("ImageScanData", "ResourceCatalog", "ProjectData", "SubjectData", "MrScanData",
                 "XdatUser", "CatCatalog", "ArcProject", "WrkWorkflowData", "ValProtocolData",
                 "ProcGenProcData", "ASideEffectsPittsburghData", "DisplayHTMLCell"):
        assert name in dir(real_classes), name
    assert real_classes["xnat:mrSessionData"] is mr
    assert real_classes.lookup["cat:catalog"] is real_classes.CatCatalog
    assert issubclass(real_classes.ResourceCatalog, real_classes.AbstractResource)


def test_real_set_builds_without_warnings(real_model: SchemaModel) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classes = build_classes(real_model)
    displays = classes.DisplayDisplays
    assert displays.__fields__["display_field"].xpath == "DisplayField"
    assert displays.__schema_fields__["display_field"].xpath == "display_field"


def test_class_count(real_classes) -> None:
    assert len(real_classes.lookup) == 517
    # Every type has a class; all but the clashing/unsafe ones are attributes.
    assert len(real_classes) == 517
    assert len(dir(real_classes)) == 517 + 5  # and built, lookup, model, on_build, register


def test_fields_are_typed_descriptors(real_classes) -> None:
    mr = real_classes.MrSessionData
    field = mr.__dict__["field_strength"]
    assert isinstance(field, FieldProperty) and field.xpath == "fieldStrength"
    assert field.type == "xs:string" and field.facets.max_length == 255
    label = real_classes.ExperimentData.__dict__["label"]
    assert "label" not in mr.__dict__ and mr.__fields__["label"] is label
    search = mr.field_strength
    assert isinstance(search, SearchField)
    assert search.xpath == "xnat:mrSessionData/fieldStrength"
    assert isinstance(real_classes.ExperimentData.__dict__["sharing"], ChildProperty)
    assert real_classes.ExperimentData.__dict__["sharing"].xpath == "sharing/share"
    # The hand-written ``scans`` listing shadows the schema property; the schema's stays reachable.
    assert real_classes.ImageSessionData.__schema_fields__["scans"].kind == "listing"
    assert "field_strength" in mr.__fields__ and "label" in mr.__fields__


def test_values_convert_and_facets_are_enforced(real_classes) -> None:
    session = real_classes.MrSessionData(datafields={"date": "2020-01-02", "fieldStrength": "3.0",
                                                     "time": "12:34:56"})
    assert session.date == datetime.date(2020, 1, 2)
    assert session.time == datetime.time(12, 34, 56)
    assert session.field_strength == "3.0"  # xs:string in the schema, so it stays text
    with pytest.raises(XNATValueError, match="field_strength.*max_length"):
        session.field_strength = "3" * 256
    session.date = datetime.date(2021, 5, 6)
    assert session._datafields["date"] == "2021-05-06"
    demographics = real_classes.DemographicData()
    demographics.gender = "female"
    assert demographics.gender == "female"
    with pytest.raises(XNATValueError, match="gender.*not one of the allowed values"):
        demographics.gender = "splendid"
    assert demographics.gender == "female"
    demographics.education = 12
    assert demographics.education == 12 and demographics._datafields["education"] == "12"
    with pytest.raises(XNATValueError, match="education.*max_inclusive"):
        demographics.education = 31
    with pytest.raises(XNATValueError, match="education"):
        demographics.education = "twelve"
    del demographics.gender
    assert demographics.gender is None


def test_docstrings_come_from_the_schema(real_classes) -> None:
    doc = real_classes.MrSessionData.__dict__["field_strength"].__doc__
    assert doc.startswith("Free form text to indicate the field strength used in this scanning session")
    assert "fieldStrength" in doc and "max_length: 255" in doc
    assert "XNAT data type ``xnat:mrSessionData``" in real_classes.MrSessionData.__doc__


def test_model_round_trips_through_json(real_model: SchemaModel) -> None:
    assert SchemaModel.from_json(real_model.to_json()) == real_model


@pytest.mark.parametrize("core_only", [True, False])
def test_xnatpy_fixture_variant_is_read(reference: Path, core_only: bool) -> None:
    folder = reference / "schemas-variants" / "xnatpy-0.8.1-test-fixture"
    sources = [("xnat", (folder / "xnat.xml").read_bytes()), ("xdat", (folder / "xdat.xml").read_bytes())]
    model = read_schemas(sources[:1] if core_only else sources)
    assert "xnat:mrSessionData" in model.types
    with warnings.catch_warnings():
        warnings.simplefilter("error", XNATSchemaWarning)
        classes = build_classes(model)
    assert [c.__name__ for c in classes.MrSessionData.__mro__ if "__xsi_type__" in c.__dict__][:4] == [
        "MrSessionData", "ImageSessionData", "SubjectAssessorData", "ExperimentData"]
    # The 1.8 fixture has no 1.9 modalities; the 1.9 set does.
    assert "DmsSessionData" not in dir(classes)
