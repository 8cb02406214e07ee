"""The BIDS export benchmark's client runs against a server and checks its own result (issue 20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import probe
from tests.benchmarks.workloads import bids_export

pytestmark = pytest.mark.reference


@pytest.mark.parametrize("executor", [None, "threads"])
def test_the_workload_exports_every_session(server: Any, connection: Any, project: str, imported: Any,
                                            needs_dcm2niix: str, executor: str | None) -> None:
    imported(project, subject="A", label="A_MR")
    imported(project, subject="B", label="B_MR")
    params = {"url": server.url, "user": "admin", "password": "admin", "project": project, "executor": executor}
    result = bids_export.client({**params, "count": 2}, probe)
    assert result["seconds"] > 0 and result["series"] == 6
    with pytest.raises(AssertionError, match="2 sessions converted of 3"):  # a run that did less is refused
        bids_export.client({**params, "count": 3}, probe)


def test_the_seed_needs_the_reference_dicom(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XNAT_REFERENCE", str(tmp_path))
    with pytest.raises(RuntimeError, match="needs XNAT_REFERENCE with dicom/Case001"):
        bids_export.case001_zip()
