"""Elements with a text value and attributes (XSD simpleContent: ``scanner``, ``dcmValidation``,
``weight``) on the real schema set: assigned their text as XNAT's REST takes it
(``xnat:mrSessionData/scanner=...``), read back as the nested object's ``value`` beside its
attributes; a keyword that cannot be set raises XNATValueError naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import xnat
from xnat.classes.properties import SimpleContentProperty
from xnat.exceptions import XNATValueError


@pytest.fixture(scope="module")
def real(reference_schemas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from xnat.testing.runner import XNATServer

    with XNATServer(data_dir=tmp_path_factory.mktemp("xnat"), users=["admin:admin:admin"],
                    schemas=reference_schemas) as server:
        with xnat.connect(server.url, user="admin", password="admin") as session:
            session.put("/data/projects/SC")
            yield session


_COUNTER = iter(range(1, 1_000_000))


@pytest.fixture
def subject(real: Any) -> Any:
    return real.classes.SubjectData(parent=real.projects["SC"], label=f"S{next(_COUNTER):03d}")


def _fields(session: Any, obj: Any) -> dict[str, Any]:
    return dict(session.get_json(obj.uri)["items"][0]["data_fields"])


def test_created_with_a_scanner_value_reads_it_back(real: Any, subject: Any) -> None:
    experiment = real.classes.MrSessionData(parent=subject, label="MR_SCANNER", scanner="Siemens")
    assert _fields(real, experiment)["scanner"] == "Siemens"  # sent as xnat:mrSessionData/scanner
    assert experiment.scanner.value == "Siemens" and experiment.scanner.manufacturer is None
    experiment.scanner.manufacturer = "SIEMENS"
    experiment.scanner = "Trio"
    real.clearcache()
    again = real.projects["SC"].experiments["MR_SCANNER"]
    assert (again.scanner.value, again.scanner.manufacturer) == ("Trio", "SIEMENS")
    assert _fields(real, again)["scanner/manufacturer"] == "SIEMENS"
    again.scanner = None  # cleared, the attribute kept
    real.clearcache()
    assert real.projects["SC"].experiments["MR_SCANNER"].scanner.value is None


def test_a_scan_scanner_and_dcm_validation(real: Any, subject: Any) -> None:
    experiment = real.classes.MrSessionData(parent=subject, label="MR_SCAN")
    scan = real.classes.MrScanData(parent=experiment, id="1", type="T1", scanner="Prisma", dcm_validation="ok")
    fields = _fields(real, scan)
    assert (fields["scanner"], fields["dcmValidation"]) == ("Prisma", "ok")
    assert scan.scanner.value == "Prisma" and scan.dcm_validation.value == "ok"
    assert isinstance(type(scan).__dict__.get("scanner") or type(scan).__mro__[1].__dict__["scanner"],
                      SimpleContentProperty)


def test_a_numeric_text_value_is_converted_and_checked(real: Any, subject: Any) -> None:
    experiment = real.classes.PetSessionData(parent=subject, label="PET_DOSE")
    with pytest.raises(XNATValueError, match="dose"):
        experiment.tracer.dose = "a lot"
    assert "tracer/dose" not in _fields(real, experiment)  # nothing sent


@pytest.mark.parametrize(("keyword", "value", "message"), [
    ("scanner", {"model": "Trio"}, "scanner takes its text value .* obj.scanner.<attribute>"),
    ("fields", {"a": "1"}, r"fields is a list of nested objects .* obj.fields\['name'\] = value"),
    ("scans", [], "scans cannot be given a value"),
])
def test_a_keyword_that_cannot_be_set_names_the_field(real: Any, subject: Any, keyword: str, value: Any,
                                                       message: str) -> None:
    with pytest.raises(XNATValueError, match=message):
        real.classes.MrSessionData(parent=subject, label="MR_BAD", **{keyword: value})
    assert "MR_BAD" not in real.projects["SC"].experiments  # nothing created


def test_a_nested_object_cannot_be_assigned(real: Any, subject: Any) -> None:
    with pytest.raises(XNATValueError, match=r"demographics is a nested object .* obj.demographics.<field>"):
        subject.demographics = "male"
    with pytest.raises(XNATValueError, match="is set on the object that holds it: obj.scanner = value"):
        real.classes.MrSessionData(parent=subject, label="MR_VALUE").scanner.value = "x"


def test_every_single_simple_content_element_of_the_real_schemas_is_a_value(real: Any) -> None:
    """The siblings: each single simpleContent element reads as an object with a value and is assignable."""
    model = real.classes.model
    seen = []
    for key, typedef in model.types.items():
        for field in typedef.fields:
            target = model.types.get(field.type)
            if target is None or not target.simple_content or field.is_list:
                continue
            descriptor = real.classes.lookup[key].__schema_fields__.get(field.name)
            assert isinstance(descriptor, SimpleContentProperty), (key, field.name, descriptor)
            assert descriptor.value_type == (target.value_type or "xs:string")
            seen.append(f"{key}/{field.name}")
    assert {"xnat:imageSessionData/scanner", "xnat:imageScanData/scanner", "xnat:demographicData/weight",
            "xnat:mrScanData/dcmValidation", "xnat:experimentData/delay"} <= set(seen)


def test_a_value_inside_a_nested_part_reads_from_that_part(real: Any, subject: Any) -> None:
    """``weight`` lives in the subject's ``demographics`` item (``weight``, ``weight/units``), not in the subject's."""
    subject.demographics.weight = 70.5
    subject.demographics.weight.units = "kg"
    item = real.get_json(subject.uri)["items"][0]
    demographics = next(c for c in item["children"] if c["field"] == "demographics")["items"][0]["data_fields"]
    assert (demographics["weight"], demographics["weight/units"]) == (70.5, "kg")
    real.clearcache()
    again = real.projects["SC"].subjects[subject.label].demographics
    assert (again.weight.value, again.weight.units) == (70.5, "kg") and again.weight.parent is not None
    with pytest.raises(XNATValueError, match="weight"):
        again.weight = "heavy"


def test_a_search_compares_the_text(real: Any, subject: Any) -> None:
    mr = real.classes.MrSessionData
    real.classes.MrSessionData(parent=subject, label="MR_FOUND", scanner="Skyra")
    assert mr.scanner.type == "xs:string"
    found = mr.query().filter(mr.scanner == "Skyra").all()
    assert [experiment.label for experiment in found] == ["MR_FOUND"]


def test_set_and_mset_take_the_text_too(real: Any, subject: Any) -> None:
    experiment = real.classes.MrSessionData(parent=subject, label="MR_MSET")
    experiment.mset(scanner="Prisma", note="n")
    experiment.set("scanner", "Vida")
    assert _fields(real, experiment)["scanner"] == "Vida" and _fields(real, experiment)["note"] == "n"
    with pytest.raises(XNATValueError, match="fields is a list of nested objects"):
        experiment.mset(fields={"a": "1"}, note="not sent")
    assert _fields(real, experiment)["note"] == "n"  # nothing sent on a bad one
