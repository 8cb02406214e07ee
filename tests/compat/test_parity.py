"""The same pyxnat-style script, run by real pyxnat 1.6.4 and by ``xnat.compat.pyxnat``
against two fresh embedded servers, gives the same results.

The script is written once, against whichever module it is handed; it covers every call of
the compatibility layer the two agree on. Where we deliberately differ (errors instead of
empty lists), ``test_errors.py`` says so.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xnat.compat import pyxnat as ours
from xnat.testing import XNATServer

real_pyxnat = pytest.importorskip("pyxnat")


def script(pyxnat: ModuleType, url: str, work: Path) -> dict[str, Any]:
    """A pyxnat user's script: create, annotate, upload, list, select, search, download, delete."""
    out: dict[str, Any] = {}
    x = pyxnat.Interface(server=url, user="admin", password="admin")
    project = x.select.project("PARITY")
    out["exists_before"] = project.exists()
    project.create()
    out["exists_after"] = project.exists()
    x.select.project("OTHER").create()
    subject = project.subject("S1")
    subject.create()
    experiment = subject.experiment("MR1")
    experiment.create(experiments="xnat:mrSessionData")
    scan = experiment.scan("3")
    scan.create(scans="xnat:mrScanData")
    scan.attrs.set("type", "T1w")
    experiment.attrs.mset({"xnat:mrSessionData/date": "2021-03-01"})
    out["scan_type"] = scan.attrs.get("type")
    out["date"] = experiment.attrs.get("xnat:mrSessionData/date")
    out["ids"] = [subject.id(), subject.label(), subject.datatype(), experiment.id(), experiment.label(),
                  experiment.datatype(), scan.id(), scan.datatype()]

    source = work / "hello.txt"
    source.write_text("hello xnat")
    scan.resource("NIFTI").file("hello.txt").put(str(source))
    archive = work / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("a.txt", "A")
        bundle.writestr("sub/b.txt", "B")
    scan.resource("EXTRA").put_zip(str(archive), extract=True)
    out["extra_files"] = sorted(scan.resource("EXTRA").files().get())
    out["resources_exist"] = [scan.resource(name).exists() for name in ("NIFTI", "EXTRA", "NONE")]
    first = scan.resource("NIFTI").files().first()
    out["first_file"] = first.label()
    target = work / "download.txt"
    first.get(dest=str(target))
    out["downloaded"] = target.read_text()
    folder = work / "resource"
    folder.mkdir()
    extracted = scan.resource("NIFTI").get(str(folder), extract=True)
    out["extracted"] = sorted(os.path.relpath(path, folder) for path in extracted)

    out["subjects"] = project.subjects().get()
    out["subject_labels"] = [s.label() for s in project.subjects()]
    out["fetchall"] = len(project.subjects().fetchall())
    out["first_class"] = type(project.subjects().first()).__name__
    out["path"] = x.select("/project/PARITY/subjects/*/experiments/*E0*").get()
    out["path_by_label"] = x.select("/project/PARITY/subjects/*/experiments/*MR*").get()
    out["path_scans"] = x.select("/projects/PARITY/subjects/*/experiments/*/scans/*").get()
    out["top_experiments"] = x.select.experiments().get()
    out["via_project"] = [project.experiment("MR1").exists(), project.subject("NOPE").exists()]

    table = x.select("xnat:mrSessionData", ["xnat:mrSessionData/LABEL", "xnat:mrSessionData/DATE"]).where(
        [("xnat:mrSessionData/PROJECT", "=", "PARITY"), "AND"])
    out["search"] = [table.data, list(table.headers()), table.as_list(), table.items()]
    out["field_values"] = x.inspect.field_values("xnat:mrSessionData/PROJECT")
    out["datatypes"] = sorted(x.inspect.datatypes())
    out["datatype_fields"] = sorted(x.inspect.datatypes("xnat:mrSessionData"))
    out["datatype_glob"] = sorted(x.inspect.datatypes("xnat:mr*"))
    out["experiment_values"] = x.inspect.experiment_values("xnat:mrSessionData")
    out["array"] = x.array.experiments(project_id="PARITY").data

    subject.share("OTHER")
    out["shared"] = [s.label() for s in x.select.project("OTHER").subjects()]
    subject.unshare("OTHER")
    out["unshared"] = [s.label() for s in x.select.project("OTHER").subjects()]

    out["raw_status"] = x.get("/data/projects?format=json").status_code
    experiment.delete()
    out["deleted"] = experiment.exists()
    x.disconnect()
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    found = {}
    for name, module in (("pyxnat", real_pyxnat), ("ours", ours)):
        with XNATServer(users=["admin:admin:admin"]) as server:
            found[name] = script(module, server.url, tmp_path_factory.mktemp(name))
    return found


KEYS = ["exists_before", "exists_after", "scan_type", "date", "ids", "extra_files", "resources_exist", "first_file",
        "downloaded", "extracted", "subjects", "subject_labels", "fetchall", "first_class", "path", "path_by_label", "path_scans",
        "top_experiments", "via_project", "search", "field_values", "datatypes", "datatype_fields", "datatype_glob", "experiment_values", "array", "shared",
        "unshared", "raw_status", "deleted"]


@pytest.mark.parametrize("key", KEYS)
def test_pyxnat_and_ours_agree(results: dict[str, dict[str, Any]], key: str) -> None:
    assert results["ours"][key] == results["pyxnat"][key]
