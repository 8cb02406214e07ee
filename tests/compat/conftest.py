"""A running embedded server (real HTTP, so pyxnat itself can talk to it) with the data
pyxnat's "first steps" page walks through: project ``xnatDownload``, subject ``sub-001``,
MR session ``sub-001_ses-01``, scan ``3`` with a ``DICOM`` resource of two files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import xnat
from xnat.testing import XNATServer

SCAN = "/data/projects/xnatDownload/subjects/sub-001/experiments/sub-001_ses-01/scans/3"


@pytest.fixture(scope="module")
def server() -> Iterator[XNATServer]:
    with XNATServer(users=["admin:admin:admin"]) as running:
        with xnat.connect(running.url, user="admin", password="admin", no_parse_model=True) as session:
            session.put("/data/projects/xnatDownload")
            session.put("/data/projects/xnatDownload/subjects/sub-001", query={"xsiType": "xnat:subjectData"})
            session.put("/data/projects/xnatDownload/subjects/sub-001/experiments/sub-001_ses-01",
                        query={"xsiType": "xnat:mrSessionData", "date": "2020-10-30"})
            session.put(SCAN, query={"xsiType": "xnat:mrScanData", "type": "T1w"})
            for name in ("0001.dcm", "0002.dcm"):
                session.put(f"{SCAN}/resources/DICOM/files/{name}", data=f"dicom {name}".encode())
        yield running
