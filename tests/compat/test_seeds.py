"""The code of pyxnat's documents (the PyPI summary's quickstart and "First steps with
pyxnat"), run with only the import changed and the URL and credentials pointed at the
embedded server."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from xnat.compat import pyxnat
from xnat.compat.pyxnat import Interface
from xnat.testing import XNATServer


def test_quickstart_lists_projects_and_disconnects(server: XNATServer) -> None:
    interface = Interface(server=server.url, user="admin", password="admin")
    projects = interface.select.projects().get()
    assert projects == ["xnatDownload"]
    interface.disconnect()


def test_first_steps_connect_with_credentials(server: XNATServer) -> None:
    x = pyxnat.Interface(server=server.url, user="admin", password="admin")
    projects = list(x.select.projects())
    assert [p.id() for p in projects] == ["xnatDownload"]
    x.disconnect()


def test_first_steps_config_file_both_ways(server: XNATServer, tmp_path: Path) -> None:
    interface = pyxnat.Interface(server=server.url, user="admin", password="admin")
    interface.save_config(str(tmp_path / "xnat_config.cfg"))
    interface.disconnect()
    written = tmp_path / "xnat_config.cfg"
    assert stat.S_IMODE(os.stat(written).st_mode) == 0o600
    assert json.loads(written.read_text()) | {"verify": True} == {
        "server": server.url, "user": "admin", "password": "admin", "verify": True}
    handmade = tmp_path / "handmade.cfg"
    handmade.write_text(json.dumps({"server": server.url, "user": "admin", "password": "admin"}))
    for path in (written, handmade):
        x = pyxnat.Interface(config=str(path))
        assert x.select.projects().get() == ["xnatDownload"]
        x.disconnect()


def test_first_steps_walk(server: XNATServer, tmp_path: Path) -> None:
    interface = pyxnat.Interface(server=server.url, user="admin", password="admin")
    project = interface.select.project("xnatDownload")
    subjects = list(project.subjects())
    subject_labels = [e.label() for e in subjects]
    assert subject_labels == ["sub-001"]
    assert subjects[0].id().startswith("XNAT_S")

    project = interface.select.project("xnatDownload")
    experiment = project.subject("sub-001").experiment("sub-001_ses-01")
    scan = experiment.scan("3")
    assert scan.attrs.get("type") == "T1w"

    resource = scan.resource("DICOM")
    f = resource.files().first()
    filename = f.label()
    assert filename == "0001.dcm"
    f.get(dest=str(tmp_path / filename))
    assert (tmp_path / filename).read_bytes() == b"dicom 0001.dcm"
    interface.disconnect()
