"""prune: sessions deleted from XNAT leave the dataset (files, mapping rows, sessions.tsv rows, records), reported."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.bids.conftest import T1_CONFIG, validate
from xnat.bids.state import read_records, record_path
from xnat.exceptions import XNATValueError

pytestmark = pytest.mark.reference


def mapped_sessions(dataset: Path) -> set[str]:
    with open(dataset / "code" / "xnat" / "mapping.tsv", newline="") as stream:
        return {row["experiment_id"] for row in csv.DictReader(stream, delimiter="\t")}


def test_deleted_sessions_are_reported_then_pruned(connection: Any, project: str, imported: Any, tmp_path: Path,
                                                   needs_dcm2niix: str) -> None:
    first = imported(project)
    second = imported(project, subject="Case001", label="Case001_B")
    other = imported(project, subject="Sub2", label="Sub2_MR")
    dataset = tmp_path / "bids"
    export = connection.projects[project].export_bids
    export(dataset, T1_CONFIG, participant_fields=["gender"])
    for gone in (second, other):
        connection.delete(f"/data/experiments/{gone.id}", query={"removeFiles": "true"})

    kept = export(dataset, T1_CONFIG, participant_fields=["gender"])  # off by default: reported only
    assert kept.gone == sorted([second.id, other.id]) and kept.pruned == []
    assert (dataset / "sub-Sub2" / "ses-Sub2MR").is_dir() and (dataset / "sub-Case001" / "ses-Case001B").is_dir()
    assert mapped_sessions(dataset) == {first.id, second.id, other.id}

    pruned = export(dataset, T1_CONFIG, participant_fields=["gender"], prune=True)
    assert pruned.ok and pruned.pruned == sorted([second.id, other.id]) and pruned.unchanged == [first.id]
    assert "removed from the dataset" in pruned.summary()
    assert not (dataset / "sub-Sub2").exists()                         # its last session: the subject goes
    assert not (dataset / "sub-Case001" / "ses-Case001B").exists()
    assert (dataset / "sub-Case001" / "ses-Case001").is_dir()
    assert (dataset / "sub-Case001" / "sub-Case001_sessions.tsv").read_text().splitlines() == [
        "session_id", "ses-Case001"]
    assert (dataset / "participants.tsv").read_text().splitlines() == ["participant_id\tsex", "sub-Case001\tn/a"]
    assert mapped_sessions(dataset) == {first.id}
    assert set(read_records(dataset)) == {first.id}
    assert validate(dataset) == []
    again = export(dataset, T1_CONFIG, participant_fields=["gender"], prune=True)
    assert again.gone == [] and again.pruned == []


def test_a_record_whose_names_are_not_entities_is_not_pruned(connection: Any, project: str, imported: Any,
                                                             tmp_path: Path, needs_dcm2niix: str) -> None:
    gone = imported(project, subject="Sub2", label="Sub2_MR")
    dataset = tmp_path / "bids"
    connection.projects[project].export_bids(dataset, T1_CONFIG)
    outside = tmp_path / "outside" / "ses-x"
    outside.mkdir(parents=True)
    path = record_path(dataset, gone.id)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "sub": "../../outside", "ses": "x"}))  # a record tampered with
    connection.delete(f"/data/experiments/{gone.id}", query={"removeFiles": "true"})
    report = connection.projects[project].export_bids(dataset, T1_CONFIG, prune=True)
    assert report.gone == [gone.id] and report.pruned == []
    assert outside.is_dir() and path.is_file()


def test_prune_needs_a_project(connection: Any, project: str, imported: Any, tmp_path: Path,
                               needs_dcm2niix: str) -> None:
    imported(project)
    subject = connection.projects[project].subjects["Case001"]
    with pytest.raises(XNATValueError, match="prune needs the export of a whole project"):
        subject.export_bids(tmp_path / "bids", T1_CONFIG, prune=True)
    assert not (tmp_path / "bids").exists()


def test_the_command_line_prunes(connection: Any, server: Any, project: str, imported: Any, tmp_path: Path,
                                 needs_dcm2niix: str, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    from xnat.cli import main

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XNAT_USER", "admin")
    monkeypatch.setenv("XNAT_PASS", "admin")
    imported(project)
    gone = imported(project, subject="Sub2", label="Sub2_MR")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(T1_CONFIG))
    command = ["bids", "export", project, str(tmp_path / "bids"), "--config", str(config), "--host", server.url,
               "--no-progress"]
    assert main(command) == 0
    connection.delete(f"/data/experiments/{gone.id}", query={"removeFiles": "true"})
    assert main([*command, "--prune"]) == 0
    assert f"session {gone.id} is no longer in the project; removed from the dataset" in capsys.readouterr().err
    assert not (tmp_path / "bids" / "sub-Sub2").exists()
