"""Derivatives back onto XNAT through the dataset's mapping, in Python and on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.bids.conftest import T1_CONFIG
from xnat.bids.derivatives import upload_derivatives
from xnat.bids.errors import BidsTargetError
from xnat.cli import main

pytestmark = pytest.mark.reference


def fake_derivatives(dataset: Path) -> Path:
    """What a pipeline might leave: per session, per subject, a subject report, and dataset files."""
    folder = dataset / "derivatives" / "pipe"
    files = {
        "dataset_description.json": '{"Name": "pipe", "BIDSVersion": "1.10.0", "DatasetType": "derivative"}',
        "sub-Case001/ses-Case001/anat/sub-Case001_ses-Case001_desc-brain_mask.nii.gz": "mask",
        "sub-Case001/figures/sub-Case001_T1w.svg": "<svg/>",
        "sub-Case001.html": "<html/>",
        "sub-Nobody/ses-1/anat/sub-Nobody_ses-1_T1w.nii.gz": "stray",
    }
    for relpath, text in files.items():
        (folder / relpath).parent.mkdir(parents=True, exist_ok=True)
        (folder / relpath).write_text(text)
    return folder


def names(connection: Any, uri: str) -> list[str]:
    return sorted(row["URI"].split("/files/", 1)[1] for row in connection.get_json(f"{uri}/files")["ResultSet"]["Result"])


def test_derivatives_round_trip_onto_the_right_session_and_subject(connection: Any, project: str, imported: Any,
                                                                    tmp_path: Path, needs_dcm2niix: str) -> None:
    experiment = imported(project)
    other = imported(project, subject="Other", label="Other_MR")  # exported too, must receive nothing
    dataset = tmp_path / "bids"
    connection.projects[project].export_bids(dataset, T1_CONFIG)
    report = upload_derivatives(connection, fake_derivatives(dataset))
    session_uri = f"/data/projects/{project}/subjects/{experiment.subject_id}/experiments/{experiment.id}"
    subject_uri = f"/data/projects/{project}/subjects/{experiment.subject_id}"
    assert names(connection, f"{session_uri}/resources/pipe") == [
        "anat/sub-Case001_ses-Case001_desc-brain_mask.nii.gz"]
    assert names(connection, f"{subject_uri}/resources/pipe") == ["figures/sub-Case001_T1w.svg", "sub-Case001.html"]
    assert connection.head(f"/data/experiments/{other.id}/resources/pipe", accepted_status=[404]).status_code == 404
    assert report.files == 3 and not report.ok
    assert [(Path(p).parent.name, why) for p, why in report.skipped.items()] == [
        ("sub-Nobody", "the mapping knows no such session")]
    assert [Path(p).name for p in report.outside] == ["dataset_description.json"]


def test_a_folder_without_a_mapping_is_refused(tmp_path: Path, connection: Any) -> None:
    (tmp_path / "pipe" / "sub-1").mkdir(parents=True)
    with pytest.raises(BidsTargetError, match="no code/xnat/mapping.tsv in a folder above"):
        upload_derivatives(connection, tmp_path / "pipe")
    with pytest.raises(BidsTargetError, match="is not a folder"):
        upload_derivatives(connection, tmp_path / "missing")


def test_the_command_line_exports_and_uploads(server: Any, project: str, imported: Any, tmp_path: Path,
                                              needs_dcm2niix: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    imported(project)
    monkeypatch.setenv("XNATPY_USER", "admin")
    monkeypatch.setenv("XNATPY_PASS", "admin")
    config = tmp_path / "config.json"
    config.write_text('{"descriptions": [{"datatype": "anat", "suffix": "T1w", '
                      '"criteria": {"SeriesDescription": "T1*"}}]}')
    dataset = tmp_path / "bids"
    code = main(["bids", "export", project, str(dataset), "--config", str(config), "--host", server.url,
                 "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip() == str(dataset.absolute())
    assert "1 sessions converted" in err and "scan 4 (SAG LOCALIZER)" in err
    code = main(["bids", "upload-derivatives", str(fake_derivatives(dataset)), "--host", server.url])
    out, err = capsys.readouterr()
    assert code == 1 and "not uploaded" in err and "/resources/pipe" in out  # sub-Nobody is reported
    config.write_text('{"descriptions": [{"dataType": "anat"}]}')
    code = main(["bids", "export", project, str(dataset), "--config", str(config), "--host", server.url])
    assert code == 1 and "dcm2bids 3 calls it 'datatype'" in capsys.readouterr().err
