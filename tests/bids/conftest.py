"""Fixtures for the BIDS export tests.

* ``server``/``connection``: one embedded XNAT over HTTP per module, ``xnat.connect`` as admin;
* ``case001_zip``: the real Case001 DICOM (3 series: T1 SPIN ECHO, SAG LOCALIZER, HEME
  SUSEPTIBILITY) zipped; ``imported(project, subject, label)`` imports it as one session;
* ``needs_dcm2niix``: skips, with the reason, where dcm2niix is not installed;
* :func:`validate`: the BIDS validator's errors for a dataset (``bids-validator-deno``),
  with our own check of the required files where the validator cannot run.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import xnat
from xnat.bids.convert import find_dcm2niix
from xnat.bids.errors import BidsToolMissing

T1_CONFIG: dict[str, Any] = {
    "descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"SeriesDescription": "T1*"}}],
}


@pytest.fixture(scope="session")
def case001_zip(reference: Path) -> bytes:
    folder = reference / "dicom" / "Case001"
    assert folder.is_dir(), f"{folder} is missing from the reference data"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from xnat.testing.runner import XNATServer

    with XNATServer(data_dir=tmp_path_factory.mktemp("xnat"), users=["admin:admin:admin"]) as running:
        yield running


@pytest.fixture(scope="module")
def connection(server: Any) -> Iterator[Any]:
    with xnat.connect(server.url, user="admin", password="admin", keepalive=False) as session:
        yield session


_NUMBERS = itertools.count(1)


@pytest.fixture
def project(connection: Any) -> str:
    """A new, empty project of the module's server."""
    name = f"BIDS{next(_NUMBERS):03d}"
    connection.put(f"/data/projects/{name}")
    connection.projects.clearcache()  # the listing was read before this project existed
    return name


@pytest.fixture
def imported(connection: Any, case001_zip: bytes) -> Callable[..., Any]:
    def run(project: str, subject: str | None = None, label: str | None = None) -> Any:
        return connection.services.import_(data=case001_zip, project=project, subject=subject, experiment=label,
                                           content_type="application/zip")
    return run


@pytest.fixture(scope="session")
def needs_dcm2niix() -> str:
    try:
        return find_dcm2niix()
    except BidsToolMissing:
        pytest.skip('dcm2niix is not installed (pip install "xnat[bids]")')


def _validator() -> str | None:
    beside = Path(sys.executable).with_name("bids-validator-deno")
    return str(beside) if beside.is_file() else shutil.which("bids-validator-deno")


def validate(dataset: Path) -> list[dict[str, Any]]:
    """The errors the BIDS validator finds in ``dataset`` (warnings are not errors)."""
    program = _validator()
    if program is None:
        # The validator cannot run here: check what BIDS requires of a raw dataset ourselves.
        description = json.loads((dataset / "dataset_description.json").read_text())
        assert description["Name"] and description["BIDSVersion"]
        for image in dataset.glob("sub-*/ses-*/*/*.nii.gz"):
            assert image.name.startswith(f"{image.parents[2].name}_{image.parents[1].name}_")
            assert image.with_name(image.name.replace(".nii.gz", ".json")).is_file()
        return []
    done = subprocess.run([program, str(dataset), "--format", "json"], capture_output=True, text=True, timeout=120)
    issues = json.loads(done.stdout)["issues"]["issues"]
    return [issue for issue in issues if issue.get("severity") == "error"]
