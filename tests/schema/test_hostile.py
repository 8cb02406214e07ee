"""A corpus of hostile and broken schemas: nothing runs, no local file is read.

Each corpus file (``hostile/*.xsd``) carries ``@SENTINEL@`` where an attack would create a
file and ``@SECRET@`` where it would read one; the test fills in temporary paths, reads the
schema, builds and exercises the classes, and checks that the sentinel does not exist, the
secret never appears, and no ``exec``/``compile``/``os.system``/``open`` happened (a
``sys.addaudithook`` watcher, active only inside :func:`watch`).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from xnat.classes.factory import build_classes
from xnat.exceptions import XNATSchemaError, XNATValueError
from xnat.schema.model import SchemaModel, XNATSchemaWarning
from xnat.schema.xsd import MAX_NESTING, read_schemas

CORPUS = Path(__file__).parent / "hostile"
SECRET_TEXT = "TOP-SECRET-4c1e"
_WATCHED = ("exec", "compile", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
            "open", "socket.connect", "socket.getaddrinfo", "urllib.Request", "builtins.input")
_state = threading.local()


def _audit(event: str, args: tuple) -> None:
    events = getattr(_state, "events", None)
    if events is not None and event.startswith(_WATCHED):
        events.append((event, repr(args)[:200]))


sys.addaudithook(_audit)


@contextlib.contextmanager
def watch() -> Iterator[list[tuple[str, str]]]:
    """Record audited events of this thread inside the block (warnings are recorded, not shown)."""
    events: list[tuple[str, str]] = []
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        _state.events = events
        try:
            yield events
        finally:
            _state.events = None


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_TEXT)
    return tmp_path / "sentinel", secret


def corpus(name: str, sentinel: Path, secret: Path) -> bytes:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return text.replace("@SENTINEL@", str(sentinel)).replace("@SECRET@", str(secret)).encode()


def exercise(model: SchemaModel) -> None:
    """Build the classes and touch everything a user might: dir, docs, reprs, get/set."""
    classes = build_classes(model)
    for cls in classes.lookup.values():
        _ = (cls.__doc__, repr(cls), dir(cls))
        instance = cls()
        repr(instance)
        for name, descriptor in cls.__fields__.items():
            _ = (descriptor.__doc__, repr(descriptor), repr(getattr(cls, name)))
            getattr(instance, name)
            if hasattr(descriptor, "facets"):
                for value in ("x", "'); import os #", '"""', *descriptor.facets.enumeration):
                    with contextlib.suppress(XNATValueError):
                        setattr(instance, name, value)


def check_clean(events: list[tuple[str, str]], sentinel: Path, model: SchemaModel | None = None) -> None:
    assert events == []
    assert not sentinel.exists()
    if model is not None:
        assert SECRET_TEXT not in model.to_json()


ALL_FILES = sorted(p.name for p in CORPUS.glob("*.xsd"))


def test_corpus_is_complete() -> None:
    assert len(ALL_FILES) >= 10


@pytest.mark.parametrize("name", ALL_FILES)
def test_as_extension_nothing_runs(name: str, paths) -> None:
    sentinel, secret = paths
    data = corpus(name, sentinel, secret)
    with watch() as events:
        model = read_schemas([("evil", data)])
        exercise(model)
    check_clean(events, sentinel, model)


@pytest.mark.parametrize("name", ALL_FILES)
def test_as_core_nothing_runs(name: str, paths) -> None:
    sentinel, secret = paths
    data = corpus(name, sentinel, secret)
    with watch() as events:
        try:
            model = read_schemas([("xnat", data)])
        except XNATSchemaError as exc:
            assert "schema 'xnat'" in str(exc)
            assert SECRET_TEXT not in str(exc)
            model = None
        if model is not None:
            exercise(model)
    check_clean(events, sentinel, model)


def test_code_stays_plain_text(paths) -> None:
    sentinel, secret = paths
    model = read_schemas([("evil", corpus("code_in_documentation.xsd", sentinel, secret))])
    payload = model.types["evil:payloadData"]
    assert '"""' in payload.doc and "os.system" in payload.doc
    classes = build_classes(model)
    assert "os.system" in classes.EvilPayloadData.__doc__
    assert "exec(" in classes.EvilPayloadData.__dict__["note"].__doc__
    assert not sentinel.exists()


def test_quotes_in_enumerations_are_values(paths) -> None:
    sentinel, secret = paths
    model = read_schemas([("evil", corpus("quotes_in_enumerations.xsd", sentinel, secret))])
    classes = build_classes(model)
    item = classes.EvilEnumData()
    for value in ("it's", 'say "hi"', "back\\slash\\", "line\nbreak",
                  f"'); __import__('os').system('touch {sentinel}'); ('"):
        item.choice = value
        assert item.choice == value
    with pytest.raises(XNATValueError, match="choice"):
        item.choice = "it"
    assert not sentinel.exists()


def test_facets_that_are_not_numbers_are_ignored(paths) -> None:
    sentinel, secret = paths
    model = read_schemas([("evil", corpus("expressions_as_facets.xsd", sentinel, secret))])
    fields = {f.name: f for f in model.types["evil:facetData"].fields}
    assert fields["a"].facets.min_inclusive is None and fields["a"].facets.max_inclusive == 10
    b = fields["b"].facets
    assert (b.min_exclusive, b.max_exclusive, b.min_inclusive, b.max_inclusive) == (None, None, None, None)
    c = fields["c"].facets
    assert (c.max_length, c.min_length, c.length) == (None, None, None)  # 50 digits: not a length
    d = fields["d"]
    assert d.facets.min_inclusive == 2.5 and d.facets.max_inclusive == 1000.0 and d.max_occurs == 1
    item = build_classes(model).EvilFacetData()
    item.a = 10
    with pytest.raises(XNATValueError, match="max_inclusive"):
        item.a = 11


def test_entities_are_not_expanded_and_dtds_refused(paths) -> None:
    sentinel, secret = paths
    for name in ("external_entity.xsd", "external_dtd.xsd", "entity_expansion.xsd"):
        with pytest.raises(XNATSchemaError, match="schema 'xnat': contains a DTD, which is not allowed") as info:
            read_schemas([("xnat", corpus(name, sentinel, secret))])
        assert SECRET_TEXT not in str(info.value)
        with pytest.warns(XNATSchemaWarning, match="extension schema skipped: schema 'ext'"):
            model = read_schemas([("ext", corpus(name, sentinel, secret))])
        assert model.types == {} and len(model.notes) == 1


def test_external_references_are_not_followed(paths) -> None:
    sentinel, secret = paths
    data = corpus("external_references.xsd", sentinel, secret)
    with watch() as events:
        model = read_schemas([("evil", data)])
    check_clean(events, sentinel, model)
    fields = {f.name: f for f in model.types["evil:refData"].fields}
    assert fields["fromElsewhere"].type == "xs:anyType"
    assert fields["secretElement"].type == "xs:anyType"


def test_unsafe_names_are_made_safe_or_skipped(paths) -> None:
    sentinel, secret = paths
    model = read_schemas([("evil", corpus("unsafe_names.xsd", sentinel, secret))])
    with pytest.warns(XNATSchemaWarning) as record:
        classes = build_classes(model)  # names of classes are checked here, of fields when a class is built
        list(classes.lookup.values())
    messages = "\n".join(str(w.message) for w in record)
    assert "'1x'" in messages and "'ÄÖ'" in messages and "no safe Python name" in messages
    assert "'xnat:1abc' has no safe Python class name" in messages
    cls = classes.NamesData
    fields = set(cls.__fields__)
    assert {"class_", "import_", "init_", "dict_", "a_b", "none"} <= fields
    assert not any(name.startswith("__") for name in fields)
    # Hand-written attributes of the base win over schema fields of the same name.
    assert "uri" not in fields and "xnat_session" not in fields
    assert cls.__dict__.get("uri") is None and cls.xnat_session is None
    # a-b, aB and a_b all pythonize to a_b: the first is used; all stay reachable by schema name.
    assert cls.__fields__["a_b"].xpath == "a-b"
    assert {cls.__schema_fields__[n].xpath for n in ("a-b", "aB", "a_b")} == {"a-b", "aB", "a_b"}
    # Classes: keyword -> trailing underscore, dunder/unsafe -> lookup only.
    assert classes["xnat:none"].__name__ == "None_" and "None_" in dir(classes)
    assert classes["xnat:__class__"].__name__ == "Class"
    assert "xnat:1abc" in classes.lookup and all(n.isidentifier() for n in dir(classes))
    instance = cls(datafields={"uri": "x"})
    assert instance.uri is None  # the base property, not the schema field
    assert not sentinel.exists()


def test_cycles_are_cut(paths) -> None:
    sentinel, secret = paths
    model = read_schemas([("evil", corpus("cycles.xsd", sentinel, secret))])
    names = [f.name for f in model.types["evil:aData"].fields]
    assert names.count("inLoop") == 1 and names.count("inAttrLoop") == 1
    with pytest.warns(XNATSchemaWarning, match="its own base"):
        classes = build_classes(model)
    assert issubclass(classes.EvilAData, classes.EvilBData) != issubclass(classes.EvilBData, classes.EvilAData)
    assert classes.EvilSelfData.__mro__[1].__name__ == "XNATBaseObject"


def test_undeclared_prefix_names_schema_and_element(paths) -> None:
    sentinel, secret = paths
    data = corpus("undeclared_prefix.xsd", sentinel, secret)
    with pytest.raises(XNATSchemaError, match=r"schema 'xnat': complexType 'brokenData': unknown namespace prefix"):
        read_schemas([("xnat", data)])
    with pytest.warns(XNATSchemaWarning, match="brokenData"):
        model = read_schemas([("plugin", data)])
    assert model.types == {}


def _nested(depth: int) -> bytes:
    opening = "".join(f'<xs:element name="e{i}"><xs:complexType><xs:sequence>' for i in range(depth))
    closing = "</xs:sequence></xs:complexType></xs:element>" * depth
    return (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:d" xmlns:d="urn:d">'
        f'<xs:complexType name="deep"><xs:sequence>{opening}{closing}</xs:sequence></xs:complexType></xs:schema>'
    ).encode()


def test_deep_nesting_is_bounded() -> None:
    model = read_schemas([("xnat", _nested(MAX_NESTING))])
    assert len(model.types) == MAX_NESTING + 1
    with pytest.raises(XNATSchemaError, match="complexType 'deep': anonymous types nested deeper than"):
        read_schemas([("xnat", _nested(MAX_NESTING + 1))])
    with watch() as events:  # far past libxml2's own depth limit: refused by the parser
        with pytest.raises(XNATSchemaError, match="schema 'xnat': not well-formed"):
            read_schemas([("xnat", _nested(400))])
    assert events == []


def test_long_inheritance_chain_builds_without_recursion() -> None:
    count = 1500  # deeper than Python's recursion limit if built recursively
    types = "".join(
        f'<xs:complexType name="t{i}"><xs:complexContent><xs:extension base="c:t{i - 1}">'
        f'<xs:attribute name="a{i}" type="xs:int"/></xs:extension></xs:complexContent></xs:complexType>'
        for i in range(1, count)
    )
    data = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:c" xmlns:c="urn:c">'
            f'<xs:complexType name="t0"/>{types}</xs:schema>').encode()
    model = read_schemas([("xnat", data)])
    assert len(model.types) == count
    classes = build_classes(model)
    assert classes.lookup[f"c:t{count - 1}"].__mro__[count - 1].__xsi_type__ == "c:t0"  # the deepest first
    assert classes.lookup["c:t10"].__mro__[10].__xsi_type__ == "c:t0"
    assert "a1" in classes.lookup[f"c:t{count - 1}"].__fields__


def test_ten_megabyte_schema(paths) -> None:
    sentinel, _ = paths
    types = []
    size = 0
    index = 0
    while size < 10 * 1024 * 1024:
        chunk = (
            f'<xs:complexType name="big{index}"><xs:annotation><xs:documentation>'
            f'"""{index}""" __import__("os").system("touch {sentinel}")</xs:documentation></xs:annotation>'
            f'<xs:sequence><xs:element name="v{index}" type="xs:string"/></xs:sequence></xs:complexType>'
        )
        types.append(chunk)
        size += len(chunk)
        index += 1
    data = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:big" xmlns:big="urn:big">'
            + "".join(types) + "</xs:schema>").encode()
    assert len(data) >= 10 * 1024 * 1024
    with watch() as events:
        model = read_schemas([("big", data)])
    assert len(model.types) == index
    check_clean(events, sentinel)


def test_single_text_node_over_the_parser_limit_is_refused() -> None:
    blob = "x" * (10_000_001)
    data = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:b" xmlns:b="urn:b">'
            f'<xs:complexType name="t"><xs:annotation><xs:documentation>{blob}</xs:documentation>'
            "</xs:annotation></xs:complexType></xs:schema>").encode()
    with pytest.raises(XNATSchemaError, match="schema 'xnat': not well-formed"):
        read_schemas([("xnat", data)])


@pytest.mark.parametrize("data, message", [
    (b"", "not well-formed"),
    (b"<html><body>Login</body></html>", "a login page"),
    (b"<root/>", "not xs:schema"),
    (b'<?xml version="1.0"?><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">', "not well-formed"),
    ((b"<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema'><xs:complexType name='t'><xs:sequence>"
     b"<xs:element/></xs:sequence></xs:complexType></xs:schema>"), "complexType 't': an xs:element without"),
])
def test_broken_core_schema_is_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(XNATSchemaError, match=message):
        read_schemas([("xnat", data)])
