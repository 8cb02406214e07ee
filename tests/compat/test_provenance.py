"""pyxnat's ``provenance`` on assessors and reconstructions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xnat.compat.provenance import FIELDS
from xnat.compat.pyxnat import EObject, Interface, InterfaceError
from xnat.testing import XNATServer

STEP = {"program": "bet", "program_version": "6.0", "program_arguments": "-f 0.5",
        "timestamp": "2011-03-01T12:01:01", "user": "angus", "machine": "war", "platform": "linux"}


@pytest.fixture()
def x(server: XNATServer) -> Iterator[Interface]:
    interface = Interface(server=server.url, user="admin", password="admin")
    yield interface
    interface.disconnect()


@pytest.fixture()
def derived(x: Interface, request: pytest.FixtureRequest) -> EObject:
    experiment = x.select.project("PROV").subject("S").experiment("MR")
    if not experiment.exists():
        experiment.create()
    kind, label = request.param
    if kind == "assessor":
        obj = experiment.assessor(label)
        obj.create(assessors="xnat:qcAssessmentData")
    else:
        obj = experiment.reconstruction(label)
        obj.create()
    return obj


@pytest.mark.parametrize("derived", [("assessor", "QC"), ("reconstruction", "RECON")], indirect=True)
def test_steps_are_added_read_replaced_and_deleted(derived: EObject) -> None:
    provenance = derived.provenance  # type: ignore[attr-defined]
    assert provenance.get() == []
    provenance.set(STEP)
    provenance.set([{"program": "fast", "timestamp": "2011-03-02T00:00:00"}])
    steps = provenance.get()
    assert list(steps[0]) == list(FIELDS)
    assert {key: value for key, value in steps[0].items() if value} == STEP
    assert steps[1]["program"] == "fast" and steps[1]["user"] == "admin"  # filled in from the login
    assert steps[1]["machine"] and steps[1]["platform"]
    provenance.set({**STEP, "program": "only"}, overwrite=True)
    assert [step["program"] for step in provenance.get()] == ["only"]
    provenance.delete()
    assert provenance.get() == []
    assert derived.exists()


@pytest.mark.parametrize("derived", [("assessor", "QC2")], indirect=True)
def test_bad_steps_are_refused_and_change_nothing(derived: EObject) -> None:
    provenance = derived.provenance  # type: ignore[attr-defined]
    provenance.set(STEP)
    with pytest.raises(InterfaceError, match="needs program"):
        provenance.set({"timestamp": "2011-03-01T12:01:01"})
    with pytest.raises(InterfaceError, match=r"unknown provenance keys \['progam'\]"):
        provenance.set({"progam": "typo"})
    with pytest.raises(InterfaceError, match="at least one step"):
        provenance.set([])
    with pytest.raises(InterfaceError, match="is a dict"):
        provenance.set(["bet"])  # type: ignore[list-item]
    assert [step["program"] for step in provenance.get()] == ["bet"]
