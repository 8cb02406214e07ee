"""The real xnatpy 0.8.1 against the embedded server over HTTP (issue 15, "must show").

xnatpy imports as ``xnat``, like this package, so it runs in an interpreter of its own: the
peers' venv the benchmark suite keeps (``tests/benchmarks/peers.py``: ``~/.cache/xnat-bench/
xnat-0.8.1``), or, when that is missing and ``XNATPY_SDIST`` names xnatpy's sdist (``.ci/run``
downloads it), a venv made here from that sdist. With neither the test skips and says why.

What it shows: xnatpy's default ``upload_dir`` (method ``tgz_file``: a tar.gz whose root entry
is named ``''``, extracted by the server) and ``query().tabulate_*()`` with no columns (xnatpy
sends no ``search_field`` for a class without default search fields, so the server answers the
type's default listing columns), and ``experiment.status`` with ``quarantine()``/``activate()``,
all answered as XNAT answers them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.benchmarks import peers
from xnat.testing.runner import XNATServer

from .conftest import USERS

# Run by xnatpy 0.8.1 in its own interpreter: argv = url, folder to upload; prints one JSON object.
SCRIPT = r"""
import json, sys
import xnat
url, folder = sys.argv[1], sys.argv[2]
out = {"version": xnat.__version__}
with xnat.connect(url, user="admin", password="admin") as session:
    experiment = session.projects["P1"].subjects["S1"].experiments["E1"]
    resource = experiment.create_resource("UPLOAD")
    resource.upload_dir(folder)  # the default method: tgz_file
    resource.clearcache()
    out["files"] = sorted(resource.files.keys())
    out["subjects"] = session.classes.SubjectData.query().tabulate_dict()
    out["projects"] = json.loads(session.classes.ProjectData.query().tabulate_json())["ResultSet"]["Result"]
    out["sessions"] = session.classes.MrSessionData.query().tabulate_dict()
    statuses = [experiment.status]
    experiment.quarantine()
    statuses.append(experiment.status)
    experiment.status = "active"
    statuses.append(experiment.status)
    out["statuses"] = statuses
print(json.dumps(out))
"""


def _python(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """An interpreter that imports xnatpy 0.8.1 (and never this package), or skip with the reason."""
    found = peers.xnatpy(install=False)
    if not found.error:
        return found.command
    sdist = os.environ.get("XNATPY_SDIST")
    if not sdist:
        pytest.skip(f"no xnatpy 0.8.1 to run: {found.error}; and XNATPY_SDIST is not set")
    venv = tmp_path_factory.mktemp("xnatpy081") / "venv"
    python = venv / "bin" / "python"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", sdist], check=True, capture_output=True,
                       text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"cannot install xnatpy from {sdist}: {error} {getattr(error, 'stderr', '')[-300:]}")
    return [str(python), "-I"]


@pytest.fixture(scope="module")
def xnatpy_python(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _python(tmp_path_factory)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[XNATServer]:
    with XNATServer(data_dir=tmp_path / "data", users=USERS) as running:
        yield running


def test_xnatpy_upload_dir_and_tabulate_without_columns(xnatpy_python: list[str], server: XNATServer,
                                                        tmp_path: Path) -> None:
    import requests
    http = requests.Session()
    http.auth = ("admin", "admin")
    for url in ("/data/projects/P1", "/data/projects/P1/subjects/S1",
                "/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData"):
        assert http.put(server.url + url, timeout=30).status_code == 201
    folder = tmp_path / "upload"
    (folder / "nested").mkdir(parents=True)
    (folder / "top.txt").write_bytes(b"top")
    (folder / "nested" / "inner.txt").write_bytes(b"inner")
    done = subprocess.run([*xnatpy_python, "-c", SCRIPT, server.url, str(folder)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["version"] == peers.XNATPY_VERSION  # the real xnatpy, not this package
    assert out["files"] == ["nested/inner.txt", "top.txt"]
    listed = http.get(server.url + "/data/projects/P1/subjects/S1/experiments/E1/resources/UPLOAD/files/top.txt",
                      timeout=30)
    assert listed.content == b"top"
    # no search_field sent (subjects, projects): the type's default listing display's columns,
    # one row per object; MR sessions: xnatpy sends its default fields (ID, project, subject_ID)
    assert [(r["subject_label"], r["mr_count"]) for r in out["subjects"]] == [("S1", "1")]
    assert [(r["id"], r["proj_mr_count"], r["project_access"]) for r in out["projects"]] == [("P1", "1", "private")]
    assert [(r["project"], r["quarantine_status"]) for r in out["sessions"]] == [("P1", "active")]
    # experiment.status / quarantine() / activate(): GET .../status, PUT ?quarantine=true, ?activate=true
    assert out["statuses"] == ["active", "quarantine", "active"]


INBOX_SCRIPT = r"""
import json, sys
import xnat
url, path = sys.argv[1], sys.argv[2]
with xnat.connect(url, user="admin", password="admin") as session:
    request = session.services.import_dicom_inbox(path, project="P1", experiment="MR1")
    out = {"status": request.status, "id": request.id, "project": request.project_id,
           "path": request.session_path, "experiments": sorted(session.projects["P1"].experiments.keys())}
print(json.dumps(out))
"""


def test_xnatpy_dicom_inbox_import(xnatpy_python: list[str], server: XNATServer, reference: Path) -> None:
    """xnatpy's import_dicom_inbox: the inbox handler, then GET /xapi/dicom/{id} for the request."""
    import shutil

    import requests
    assert requests.put(server.url + "/data/projects/P1", auth=("admin", "admin"), timeout=30).status_code == 201
    inbox = Path(requests.get(server.url + "/xapi/siteConfig/inboxPath", auth=("admin", "admin"), timeout=30).text)
    source = inbox / "P1" / "case1"
    shutil.copytree(reference / "dicom" / "Case001", source)
    done = subprocess.run([*xnatpy_python, "-c", INBOX_SCRIPT, server.url, str(source)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["status"], out["project"], out["path"]) == ("Completed", "P1", str(source))
    assert len(out["experiments"]) == 1
    assert source.is_dir()  # xnatpy sends cleanupAfterImport=false by default
