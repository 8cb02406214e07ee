"""The services as attributes of a session (``session.services``, ``session.prearchive``, ...)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xnat.inspect import Inspect
from xnat.prearchive import Prearchive
from xnat.services import Services
from xnat.services.mapping import MappingLevel
from xnat.services.plugins import Plugins
from xnat.services.session_mixin import SessionServicesMixin
from xnat.users import Users


@pytest.fixture(scope="module")
def wired(connection: Any) -> Any:
    """The connection, with the services mixin (already there once the session is wired)."""
    if not isinstance(connection, SessionServicesMixin):
        connection.__class__ = type("WiredSession", (SessionServicesMixin, type(connection)), {})
    return connection


def test_helpers_are_made_once_without_requests(wired: Any) -> None:
    sent: list[str] = []
    hook = lambda response, *a, **k: sent.append(response.request.path_url)  # noqa: E731
    wired.interface.hooks["response"].append(hook)
    try:
        helpers = [wired.services, wired.prearchive, wired.users, wired.inspect, wired.plugins]
        assert [type(h) for h in helpers] == [Services, Prearchive, Users, Inspect, Plugins]
        assert wired.services is wired.services and wired.prearchive is wired.prearchive
        assert all(repr(h) for h in helpers)
        assert sent == []
    finally:
        wired.interface.hooks["response"].remove(hook)


def test_import_search_and_scanners_through_the_session(wired: Any, case001_file: Path) -> None:
    wired.put("/data/projects/WIRED")
    experiment = wired.services.import_(case001_file, project="WIRED", overwrite="delete")
    wired.put(f"/data/experiments/{experiment.id}?scanner=ROOM7")
    assert "ROOM7" in wired.scanners
    assert {"T1 SPIN ECHO", "SAG LOCALIZER", "HEME SUSEPTIBILITY"} <= {r["type"] for r in wired.scan_types}
    found = wired.search(project="WIRED", scan="*LOCALIZER", level=MappingLevel.SCAN)
    assert [s.id for s in found] == ["4"]
    labels = wired.map(lambda e: e.label, "experiment", filter_function=None)
    assert "Case001" in labels.values()
    staged = wired.services.import_(case001_file, destination="/prearchive/projects/WIRED", experiment="Again")
    assert staged in wired.prearchive.sessions("WIRED")
    assert staged is wired.prearchive.session(staged.uri)
    staged.delete()
    assert wired.prearchive.find(project="WIRED") == []


def test_object_behaviour(wired: Any, case001_file: Path, tmp_path: Path) -> None:
    wired.put("/data/projects/BEHAVE")
    wired.put("/data/projects/BEHAVE/users/Collaborators/alice")
    experiment = wired.services.import_(case001_file, project="BEHAVE")
    scan = experiment.scans["9"]
    assert [r["value"] for r in scan.dicom_dump("SeriesDescription")] == ["HEME SUSEPTIBILITY"]
    assert scan.read_dicom().SeriesInstanceUID == "1.2.840.113654.2.45.2.109108"
    project = wired.create_object("/data/projects/BEHAVE")
    assert project.users["alice"].access_level == "Collaborators"
    counts = project.map(lambda s: len(s.resources["DICOM"].files), "scan")
    assert sorted(counts.values()) == [3, 20, 32]
    assert [s.id for s in experiment.search(scan="SAG*")] == ["4"]
    log = tmp_path / "log.jsonl"
    assert experiment.map(lambda s: s.id, "scan_resource", logfile=log)
    assert len(log.read_text().splitlines()) == 3


def test_a_connected_session_is_wired(connection: Any, case001_zip: bytes) -> None:
    assert isinstance(connection, SessionServicesMixin)
    connection.put("/data/projects/WIRED2")
    connection.services.import_(data=case001_zip, project="WIRED2", content_type="application/zip")
    MrSessionData = connection.classes.MrSessionData
    query = MrSessionData.query().filter(MrSessionData.label == "Case001").filter(MrSessionData.project == "WIRED2")
    assert [e.label for e in query.all()] == ["Case001"]
    assert b"<xdat:schema_field>xnat:mrSessionData/label</xdat:schema_field>" in query.to_string()
    assert MrSessionData.label == MrSessionData.label  # two fields compare by identity, not as a criterion
    assert connection.prearchive.sessions("WIRED2") == []
