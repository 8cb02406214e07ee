"""export_bids against the embedded XNAT with the real Case001 DICOM: a valid dataset, incremental runs, bad input."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import xnat.bids.worker
from tests.bids.conftest import T1_CONFIG, validate
from xnat.bids.errors import BidsTargetError, BidsToolMissing
from xnat.exceptions import XNATValueError

pytestmark = pytest.mark.reference
ANAT = "sub-Case001/ses-Case001/anat/sub-Case001_ses-Case001_T1w"


def mapping(dataset: Path) -> list[dict[str, str]]:
    with open(dataset / "code" / "xnat" / "mapping.tsv", newline="") as stream:
        return list(csv.DictReader(stream, delimiter="\t"))


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DICOM folders dcm2niix is run on (the export runs on threads: the patch reaches them)."""
    calls: list[str] = []
    real = xnat.bids.worker.run_dcm2niix

    def counted(program: str, dicom_dir: Path, out_dir: Path, name: str, timeout: float,
                options: tuple[str, ...] = ()) -> Any:
        calls.append(name)
        return real(program, dicom_dir, out_dir, name, timeout, options)

    monkeypatch.setattr(xnat.bids.worker, "run_dcm2niix", counted)
    return calls


def test_case001_exports_into_a_dataset_the_validator_accepts(connection: Any, project: str, imported: Any,
                                                              tmp_path: Path, needs_dcm2niix: str) -> None:
    experiment = imported(project)
    dataset = tmp_path / "bids"
    report = connection.projects[project].export_bids(dataset, T1_CONFIG, participant_fields=["gender"])
    assert report.ok and report.converted == [experiment.id] and report.series_converted == 3
    assert (dataset / f"{ANAT}.nii.gz").stat().st_size > 0
    assert json.loads((dataset / f"{ANAT}.json").read_text())["SeriesDescription"] == "T1 SPIN ECHO"
    assert validate(dataset) == []
    rows = mapping(dataset)
    assert {row["filename"] for row in rows} == {f"{ANAT}.nii.gz", f"{ANAT}.json"}
    assert {(row["experiment_id"], row["scan_id"], row["subject_label"], row["project"]) for row in rows} == {
        (experiment.id, "2", "Case001", project)}
    # the localizer and the susceptibility series match no description: listed, not dropped silently
    assert sorted({item["scan_id"] for item in report.unmatched}) == ["4", "9"]
    description = json.loads((dataset / "dataset_description.json").read_text())
    assert description["SourceDatasets"] == [{"URL": f"{connection.server}/data/projects/{project}"}]
    assert (dataset / "participants.tsv").read_text().splitlines() == ["participant_id\tsex", "sub-Case001\tn/a"]
    assert [p.name for p in (dataset / ".xnat-staging").iterdir()] == ["lock"]  # no session left half way


def test_a_second_export_converts_only_new_or_changed_sessions(connection: Any, project: str, imported: Any,
                                                              tmp_path: Path, needs_dcm2niix: str,
                                                              conversions: list[str]) -> None:
    first = imported(project)
    dataset = tmp_path / "bids"
    connection.projects[project].export_bids(dataset, T1_CONFIG)
    assert len(conversions) == 3
    second = imported(project, subject="Sub-2", label="S2_MR1")
    report = connection.projects[project].export_bids(dataset, T1_CONFIG)
    assert (report.converted, report.unchanged, len(conversions)) == ([second.id], [first.id], 6)
    assert (dataset / "sub-Sub2/ses-S2MR1/anat/sub-Sub2_ses-S2MR1_T1w.nii.gz").is_file()
    assert {row["experiment_id"] for row in mapping(dataset)} == {first.id, second.id}
    # a file added to one scan changes that session's digest: it alone runs again
    connection.put(f"/data/experiments/{first.id}/scans/4/resources/DICOM/files/extra.txt", data=b"note")
    report = connection.projects[project].export_bids(dataset, T1_CONFIG)
    assert (report.converted, report.unchanged) == ([first.id], [second.id])
    assert validate(dataset) == []


def test_labels_that_cannot_become_entities_are_reported_and_the_rest_exported(
        connection: Any, project: str, imported: Any, tmp_path: Path, needs_dcm2niix: str) -> None:
    good = imported(project)
    empty = imported(project, subject="__", label="Empty_MR")
    clash = imported(project, subject="Case-001", label="Clash_MR")  # also sub-Case001, another XNAT subject
    report = connection.projects[project].export_bids(tmp_path / "bids", T1_CONFIG)
    assert report.converted == [good.id] and not report.ok
    assert "cannot become a BIDS sub- entity" in report.failed_sessions[empty.id]
    assert "which is already XNAT subject" in report.failed_sessions[clash.id]
    assert "not written" in report.summary()


def test_a_series_dcm2niix_cannot_convert_is_reported_and_the_rest_converted(
        connection: Any, project: str, imported: Any, tmp_path: Path, needs_dcm2niix: str) -> None:
    experiment = imported(project)
    connection.put(f"/data/experiments/{experiment.id}/scans/99", query={"xsiType": "xnat:mrScanData",
                                                                         "type": "BROKEN"})
    connection.put(f"/data/experiments/{experiment.id}/scans/99/resources/DICOM/files/bad.dcm", data=b"not DICOM")
    report = connection.projects[project].export_bids(tmp_path / "bids", T1_CONFIG)
    assert [(item["scan_id"], "dcm2niix" in item["reason"]) for item in report.failed_series] == [("99", True)]
    assert (tmp_path / "bids" / f"{ANAT}.nii.gz").is_file() and not report.ok


@pytest.mark.parametrize("duplicates", ["run", "error"])
def test_series_matching_one_description_become_runs_or_an_error(
        connection: Any, project: str, imported: Any, tmp_path: Path, needs_dcm2niix: str, duplicates: str) -> None:
    experiment = imported(project)
    config = {"descriptions": [{"datatype": "anat", "suffix": "T2starw", "criteria": {"SeriesDescription": "HEME*"}}],
              "xnat": {"duplicates": duplicates}}
    report = experiment.export_bids(tmp_path / "bids", config)
    anat = tmp_path / "bids" / "sub-Case001" / "ses-Case001" / "anat"
    if duplicates == "run":
        names = sorted(p.name for p in anat.glob("*.nii.gz"))
        assert names == [f"sub-Case001_ses-Case001_run-0{n}_T2starw.nii.gz" for n in range(1, len(names) + 1)]
        assert len(names) > 1 and report.ok
    else:
        assert "DuplicateMatchError" in report.failed_sessions[experiment.id] and not anat.exists()


def test_a_nifti_resource_on_the_server_is_used_instead_of_converting(
        connection: Any, project: str, imported: Any, tmp_path: Path, needs_dcm2niix: str,
        conversions: list[str]) -> None:
    experiment = imported(project)
    image = b"\x1f\x8b pipeline output"
    base = f"/data/experiments/{experiment.id}/scans/2/resources/NIFTI"
    connection.put(f"{base}/files/out/t1.nii.gz", data=image)
    connection.put(f"{base}/files/out/t1.json", data=json.dumps({"SeriesDescription": "T1 from pipeline"}).encode())
    config = {**T1_CONFIG, "xnat": {"nifti_resource": "NIFTI"}}
    report = connection.projects[project].export_bids(tmp_path / "bids", config)
    assert len(conversions) == 2 and report.series_converted == 2  # scans 4 and 9; scan 2 came as NIfTI
    assert (tmp_path / "bids" / f"{ANAT}.nii.gz").read_bytes() == image
    assert {row["source"] for row in mapping(tmp_path / "bids")} == {"nifti"}


def test_a_target_holding_something_else_is_refused_and_left_alone(connection: Any, project: str, imported: Any,
                                                                    tmp_path: Path) -> None:
    imported(project)
    other = tmp_path / "other"
    other.mkdir()
    (other / "dataset_description.json").write_text('{"Name": "Theirs", "BIDSVersion": "1.9.0"}')
    with pytest.raises(BidsTargetError, match="holds another dataset .'Theirs'"):
        connection.projects[project].export_bids(other, T1_CONFIG)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    with pytest.raises(BidsTargetError, match="not empty and holds no BIDS dataset"):
        connection.projects[project].export_bids(notes, T1_CONFIG)
    assert sorted(p.name for p in other.iterdir()) == ["dataset_description.json"]
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]


def test_a_missing_dcm2niix_names_the_extra(connection: Any, project: str, imported: Any, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    imported(project)
    monkeypatch.setitem(sys.modules, "dcm2niix", None)  # the package is not installed...
    monkeypatch.setenv("PATH", str(tmp_path))            # ...and no dcm2niix on PATH
    with pytest.raises(BidsToolMissing, match=r'pip install "xnat\[bids\]"'):
        connection.projects[project].export_bids(tmp_path / "bids", T1_CONFIG)
    assert not (tmp_path / "bids").exists()


def test_sessions_run_on_worker_processes(connection: Any, project: str, imported: Any, tmp_path: Path,
                                          needs_dcm2niix: str) -> None:
    first, second = imported(project), imported(project, subject="Sub2", label="Sub2_MR")
    report = connection.projects[project].export_bids(tmp_path / "bids", T1_CONFIG, executor="processes", workers=2)
    assert sorted(report.converted) == sorted([first.id, second.id]) and report.ok
    assert validate(tmp_path / "bids") == []


def test_dates_go_into_sessions_tsv_only_when_allowed(connection: Any, project: str, imported: Any, tmp_path: Path,
                                                      needs_dcm2niix: str) -> None:
    experiment = imported(project)
    connection.put(f"/data/experiments/{experiment.id}", query={"date": "2021-03-04"})
    subject: Callable[[], Any] = lambda: connection.projects[project].subjects["Case001"]  # noqa: E731
    subject().export_bids(tmp_path / "plain", T1_CONFIG)
    sessions = tmp_path / "plain" / "sub-Case001" / "sub-Case001_sessions.tsv"
    assert sessions.read_text().splitlines() == ["session_id", "ses-Case001"]
    subject().export_bids(tmp_path / "dated", T1_CONFIG, dates=True)
    dated = tmp_path / "dated" / "sub-Case001" / "sub-Case001_sessions.tsv"
    assert dated.read_text().splitlines() == ["session_id\tacq_time", "ses-Case001\t2021-03-04T00:00:00"]
    assert validate(tmp_path / "dated") == []


def test_participant_fields_sidecar_changes_and_sessions_gone(connection: Any, project: str, imported: Any,
                                                              tmp_path: Path, needs_dcm2niix: str) -> None:
    imported(project)
    extra = imported(project, subject="Sub2", label="Sub2_MR")
    connection.projects[project].subjects["Case001"].demographics.gender = "female"
    config = {"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"SeriesDescription": "T1*"},
                                "sidecar_changes": {"ProtocolName": "t1-se"}}]}
    dataset = tmp_path / "bids"
    connection.projects[project].export_bids(dataset, config, participant_fields=["gender"])
    assert (dataset / "participants.tsv").read_text().splitlines() == [
        "participant_id\tsex", "sub-Case001\tF", "sub-Sub2\tn/a"]
    assert json.loads((dataset / f"{ANAT}.json").read_text())["ProtocolName"] == "t1-se"
    connection.delete(f"/data/experiments/{extra.id}", query={"removeFiles": "true"})
    report = connection.projects[project].export_bids(dataset, config, participant_fields=["gender"])
    assert report.gone == [extra.id] and "no longer in the project" in report.summary()
    assert (dataset / "sub-Sub2" / "ses-Sub2MR" / "anat").is_dir()  # nothing is deleted
    with pytest.raises(XNATValueError, match="has no field 'colour'"):
        connection.projects[project].export_bids(dataset, config, participant_fields=["colour"])


def test_sessions_run_on_a_dask_cluster(connection: Any, project: str, imported: Any, tmp_path: Path,
                                        needs_dcm2niix: str) -> None:
    distributed = pytest.importorskip("distributed")
    first = imported(project)
    with distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=2, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        report = connection.projects[project].export_bids(tmp_path / "bids", T1_CONFIG, executor=client)
    assert report.converted == [first.id] and report.ok
    assert (tmp_path / "bids" / f"{ANAT}.nii.gz").is_file()
