"""Names, value conversion, descriptors, behaviour mixins and the class namespace."""

from __future__ import annotations

import datetime
import warnings

import isodate
import pytest

from xnat.classes import registry
from xnat.classes.base import XNATBaseObject
from xnat.classes.factory import ClassNamespace, build_classes
from xnat.classes.properties import SearchField, convert_from_text, convert_to_text
from xnat.exceptions import XNATKeyError, XNATSchemaError, XNATValueError
from xnat.schema.model import Facets, FieldDef, SchemaModel, TypeDef
from xnat.schema.names import anonymous_class_name, pythonize_attribute_name, pythonize_class_name
from xnat.schema.xsd import read_schemas


@pytest.mark.parametrize("name, expected", [
    ("fieldStrength", "field_strength"), ("ID", "id"), ("UID", "uid"), ("studyUID", "study_uid"),
    ("dcmPatientId", "dcm_patient_id"), ("HTMLCell", "htmlcell"), ("fooBAR", "foo_bar"), ("a1B", "a1_b"),
    ("some-thing.else", "some_thing_else"), ("x__y", "x_y"), ("_x", "x"), ("class", "class_"),
    ("import", "import_"), ("__init__", "init_"), ("None", "none"), ("parameters/addParam", "parameters_add_param"),
    ("1abc", None), ("ÄÖ", None), ("", None), ("___", None),
])
def test_attribute_names_as_xnatpy(name: str, expected: str | None) -> None:
    assert pythonize_attribute_name(name) == expected


@pytest.mark.parametrize("name, expected", [
    ("xnat:mrSessionData", "MrSessionData"), ("xnat:imageScanData", "ImageScanData"),
    ("xnat:resourceCatalog", "ResourceCatalog"), ("cat:catalog", "CatCatalog"), ("xdat:user", "XdatUser"),
    ("xnat_a:ybocsData", "AYbocsData"), ("display:HTMLCell", "DisplayHTMLCell"), ("LayoutDescription", "LayoutDescription"),
    ("xnat:none", "None_"), ("xnat:1x", None), ("xnat:__class__", "Class"), ("xnat:", None),
])
def test_class_names_as_xnatpy(name: str, expected: str | None) -> None:
    assert pythonize_class_name(name) == expected


def test_anonymous_class_names_keep_foreign_namespaces_apart() -> None:
    assert anonymous_class_name("xnat", ["mrScanData", "parameters", "voxelRes"]) == "XnatpyMrScanDataParametersVoxelres"
    assert anonymous_class_name("cat", ["catalog", "metaFields"]) == "XnatpyCatCatalogMetafields"
    assert anonymous_class_name("other", ["catalog", "metaFields"]) == "XnatpyOtherCatalogMetafields"
    assert anonymous_class_name("xnat", []) is None


@pytest.mark.parametrize("xsd_type, text, value", [
    ("xs:date", "2020-01-02", datetime.date(2020, 1, 2)),
    ("xs:dateTime", "2016-05-02 12:34:56.0", datetime.datetime(2016, 5, 2, 12, 34, 56)),
    ("xs:dateTime", "2016-05-02T12:34:56", datetime.datetime(2016, 5, 2, 12, 34, 56)),
    ("xs:time", "12:34:56", datetime.time(12, 34, 56)),
    ("xs:duration", "PT1H30M", datetime.timedelta(hours=1, minutes=30)),
    ("xs:integer", "42", 42), ("xs:long", 42, 42), ("xs:int", 3.0, 3),
    ("xs:float", "3.5", 3.5), ("xs:double", 2, 2.0), ("xs:decimal", "1e3", 1000.0),
    ("xs:boolean", "true", True), ("xs:boolean", "0", False), ("xs:boolean", True, True),
    ("xs:string", "text", "text"), ("xs:string", 5, "5"), ("xs:anyType", "raw", "raw"),
    ("xs:integer", None, None),
])
def test_values_from_the_server(xsd_type: str, text: object, value: object) -> None:
    assert convert_from_text(xsd_type, text) == value


@pytest.mark.parametrize("xsd_type, text", [
    ("xs:integer", "4.5"), ("xs:integer", True), ("xs:int", 2.5), ("xs:float", "abc"), ("xs:float", False),
    ("xs:date", "02/01/2020"), ("xs:boolean", "yes"), ("xs:duration", "1 hour"), ("xs:time", "noon"),
])
def test_bad_values_are_refused(xsd_type: str, text: object) -> None:
    with pytest.raises(ValueError):
        convert_from_text(xsd_type, text)


def test_values_to_the_server() -> None:
    assert convert_to_text("xs:boolean", False) == "false"
    assert convert_to_text("xs:boolean", "1") == "true"
    assert convert_to_text("xs:integer", "7") == "7"
    assert convert_to_text("xs:float", 1) == "1.0"
    assert convert_to_text("xs:date", datetime.datetime(2020, 1, 2, 3, 4)) == "2020-01-02"
    assert convert_to_text("xs:dateTime", datetime.datetime(2020, 1, 2, 3, 4)) == "2020-01-02T03:04:00"
    assert convert_to_text("xs:duration", datetime.timedelta(minutes=5)) == "PT5M"
    assert convert_to_text("xs:duration", isodate.parse_duration("P1Y")) == "P1Y"
    assert convert_to_text("xs:date", "2020-01-02") == "2020-01-02"
    with pytest.raises(ValueError):
        convert_to_text("xs:date", "tomorrow")


def _model(*fields: FieldDef, base: str | None = None, key: str = "t:thing", extra: list[TypeDef] = ()) -> SchemaModel:
    types = {key: TypeDef(key=key, schema="t", namespace="urn:t", prefix="t", path=[key.split(":")[1]],
                          base=base, fields=list(fields))}
    types.update({t.key: t for t in extra})
    return SchemaModel(types=types)


def test_facets_on_set() -> None:
    model = _model(
        FieldDef("count", "element", "xs:integer", facets=Facets(min_exclusive=0, max_exclusive=10)),
        FieldDef("ratio", "element", "xs:float", facets=Facets(min_inclusive=0.5, max_inclusive=1.5)),
        FieldDef("code", "attribute", "xs:string", facets=Facets(min_length=2, max_length=3)),
        FieldDef("fixed", "attribute", "xs:string", facets=Facets(length=2)),
        FieldDef("level", "attribute", "xs:integer", facets=Facets(enumeration=["1", "2"])),
    )
    thing = build_classes(model).TThing()
    thing.count = 5
    thing.ratio = "0.5"
    thing.code = "ab"
    thing.fixed = "xy"
    thing.level = 2
    assert (thing.count, thing.ratio, thing.code, thing.level) == (5, 0.5, "ab", 2)
    for name, value, rule in [("count", 0, "min_exclusive"), ("count", 10, "max_exclusive"),
                              ("ratio", 1.6, "max_inclusive"), ("ratio", 0.4, "min_inclusive"),
                              ("code", "a", "min_length"), ("code", "abcd", "max_length"),
                              ("fixed", "x", "length"), ("level", 3, "allowed values"), ("count", "x", "not a valid xs:integer")]:
        with pytest.raises(XNATValueError, match=f"{name}.*{rule}"):
            setattr(thing, name, value)
    assert thing.count == 5  # a refused value changes nothing
    thing.count = None
    assert thing.count is None and "count" not in thing._datafields


def test_malformed_server_value_is_returned_raw(caplog) -> None:
    thing = build_classes(_model(FieldDef("when", "element", "xs:date"))).TThing(datafields={"when": "soon"})
    assert thing.when == "soon"
    assert "returning the raw value" in caplog.text


def test_search_fields_name_the_class_they_are_read_from() -> None:
    child = TypeDef(key="t:child", schema="t", namespace="urn:t", prefix="t", path=["child"], base="t:thing")
    classes = build_classes(_model(FieldDef("size", "element", "xs:integer"), extra=[child]))
    assert isinstance(classes.TChild.size, SearchField)
    assert str(classes.TChild.size) == "t:child/size" and classes.TThing.size.xpath == "t:thing/size"
    assert classes.TChild.size.type == "xs:integer"
    assert repr(classes.TChild.size) == "<SearchField t:child/size (xs:integer)>"


def test_constructor_sets_fields_and_makes_no_request() -> None:
    class NoNetwork:
        def __getattr__(self, name):
            raise AssertionError(f"session.{name} used")

    session = NoNetwork()
    classes = build_classes(_model(FieldDef("size", "element", "xs:integer")), session)
    thing = classes.TThing(uri="/data/things/1", size=3)
    assert thing.size == 3 and thing.xnat_session is session and thing.uri == "/data/things/1"
    assert repr(thing) == "<TThing /data/things/1>" and repr(classes.TThing()) == "<TThing (not stored)>"
    with pytest.raises(XNATValueError, match="TThing has no field 'colour'"):
        classes.TThing(colour="red")
    other = object()
    assert classes.TThing(session=other).xnat_session is other


def test_namespace_lookup_and_completion() -> None:
    classes = build_classes(_model(FieldDef("size", "element", "xs:integer")))
    assert isinstance(classes, ClassNamespace)
    assert dir(classes) == ["TThing", "built", "lookup", "model", "on_build", "register"]
    assert classes["t:thing"] is classes.TThing and "t:thing" in classes and "TThing" in classes
    assert list(classes) == [classes.TThing] and len(classes) == 1
    with pytest.raises(XNATKeyError, match="no data type 'x:y'"):
        classes["x:y"]
    with pytest.raises(AttributeError, match="no class 'Nope'"):
        classes.Nope

    class FileData(XNATBaseObject):
        __xsi_type__ = "xnat:fileData"

    classes.register("xnat:fileData", FileData)
    assert classes["xnat:fileData"] is FileData and classes.FileData is FileData and "FileData" in dir(classes)


def test_behaviour_mixins_apply_to_the_type_and_its_subclasses() -> None:
    child = TypeDef(key="t:child", schema="t", namespace="urn:t", prefix="t", path=["child"], base="t:thing")
    model = _model(FieldDef("size", "element", "xs:integer"), FieldDef("download", "element", "xs:string"),
                   extra=[child])

    @registry.behaviour("t:thing")
    class Downloadable:
        def download(self) -> str:
            return f"downloading {self.size}"

    try:
        classes = build_classes(model)
        assert classes.TThing.__mro__[1] is Downloadable
        assert classes.TChild(size=2).download() == "downloading 2"  # inherited from the parent
        assert Downloadable not in classes.TChild.__bases__
        # The hand-written method wins over the schema field of the same name...
        assert "download" not in classes.TThing.__fields__
        # ...which stays reachable by its schema name.
        assert classes.TThing.__schema_fields__["download"].xpath == "download"
        assert registry.behaviours_for("t:thing") == (Downloadable,)
        registry.behaviour("t:thing")(Downloadable)  # registering twice has no effect
        assert registry.behaviours_for("t:thing") == (Downloadable,)
    finally:
        registry.unregister("t:thing", Downloadable)
    assert "t:thing" not in registry.registered_types()
    assert build_classes(model).TThing.__mro__[1] is XNATBaseObject


def test_behaviour_misuse() -> None:
    with pytest.raises(TypeError):
        registry.behaviour("")
    with pytest.raises(TypeError):
        registry.behaviour("t:x")(lambda: None)


def test_incompatible_mixins_are_a_schema_error() -> None:
    class A: pass  # noqa: E701
    class B(A): pass  # noqa: E701

    registry.behaviour("t:thing")(A)
    registry.behaviour("t:thing")(B)
    try:
        classes = build_classes(_model())  # classes are built when first used
        with pytest.raises(XNATSchemaError, match="t:thing.*cannot build class"):
            classes.TThing
    finally:
        registry.unregister("t:thing", A)
        registry.unregister("t:thing", B)


def test_listings_and_nested_objects_are_child_properties() -> None:
    data = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns:t="urn:t">
      <xs:complexType name="item"><xs:attribute name="name" type="xs:string"/></xs:complexType>
      <xs:complexType name="thing"><xs:sequence>
        <xs:element name="fields" minOccurs="0"><xs:complexType><xs:sequence>
          <xs:element name="field" maxOccurs="unbounded"><xs:complexType><xs:simpleContent>
            <xs:extension base="xs:string"><xs:attribute name="name" type="xs:string"/></xs:extension>
          </xs:simpleContent></xs:complexType></xs:element></xs:sequence></xs:complexType></xs:element>
        <xs:element name="tags" minOccurs="0"><xs:complexType><xs:sequence>
          <xs:element name="tag" type="xs:string" maxOccurs="unbounded"/></xs:sequence></xs:complexType></xs:element>
        <xs:element name="items" type="t:item" maxOccurs="unbounded"/>
        <xs:element name="one" type="t:item"/>
        <xs:element name="codes" type="xs:string" maxOccurs="3"/>
      </xs:sequence></xs:complexType></xs:schema>"""
    model = read_schemas([("t", data)])
    field_type = model.types["t:thing/fields/field"]
    assert field_type.simple_content and field_type.value_type == "xs:string"
    cls = build_classes(model).TThing
    props = {name: cls.__dict__[name] for name in ("fields", "tags", "items", "one", "codes")}
    assert (props["fields"].kind, props["fields"].xpath, props["fields"].item_type) == (
        "listing", "fields/field", "t:thing/fields/field")
    assert (props["tags"].kind, props["tags"].xpath) == ("values", "tags/tag")
    assert (props["items"].kind, props["one"].kind, props["codes"].kind) == ("listing", "object", "values")
    thing = cls(datafields={"one": {"name": "x"}})
    assert thing.one == {"name": "x"}  # the base object's seam hands back what it stores
    assert isinstance(cls.items, SearchField)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_classes(model)


def test_a_listed_object_reads_typed_values_from_its_row(caplog) -> None:
    """The read path of a listed object (its row in the listing's columns): text, a date
    through its reader, an empty value as None, a malformed one returned raw with a warning."""
    from xnat.classes.listing import ListingRows

    classes = build_classes(_model(FieldDef("when", "element", "xs:date"), FieldDef("name", "element", "xs:string"),
                                   FieldDef("count", "element", "xs:integer")))
    rows = ListingRows([{"ID": "A", "when": " 2020-01-02", "name": "", "count": "3"},
                        {"ID": "B", "when": "soon", "name": "b", "count": "4"}])
    bind = classes.TThing._row_binder(None, rows, rows.column("ID"), None)
    first, second = bind(0), bind(1)
    assert (first.id, first.when, first.name, first.count) == ("A", datetime.date(2020, 1, 2), None, 3)
    assert "returning the raw value" not in caplog.text
    assert (second.id, second.when, second.name, second.count) == ("B", "soon", "b", 4)
    assert "returning the raw value" in caplog.text
