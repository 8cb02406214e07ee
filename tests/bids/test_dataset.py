"""The dataset on disk: sessions moved in whole, one export at a time, records, the mapping's IDs."""

from __future__ import annotations

from pathlib import Path

import pytest

from xnat.bids.errors import BidsTargetError
from xnat.bids.layout import STAGING, check_target, exclusive, install_session, staging_folder
from xnat.bids.mapping import session_index
from xnat.bids.state import is_current, read_record, read_records, record_path, write_record


def converted(target: Path, text: str) -> Path:
    folder = staging_folder(target, "E1") / "session"
    (folder / "anat").mkdir(parents=True)
    (folder / "anat" / "sub-1_ses-1_T1w.nii.gz").write_text(text)
    return folder


def test_a_session_replaces_the_old_one_whole(tmp_path: Path) -> None:
    install_session(converted(tmp_path, "old"), tmp_path, "1", "1")
    (tmp_path / "sub-1" / "ses-1" / "anat" / "sub-1_ses-1_T2w.nii.gz").write_text("gone with the old version")
    install_session(converted(tmp_path, "new"), tmp_path, "1", "1")
    anat = tmp_path / "sub-1" / "ses-1" / "anat"
    assert {p.name: p.read_text() for p in anat.iterdir()} == {"sub-1_ses-1_T1w.nii.gz": "new"}


def test_one_export_at_a_time_and_leftovers_cleared(tmp_path: Path) -> None:
    leftover = staging_folder(tmp_path, "E9")  # a run stopped half way
    (leftover / "half.nii.gz").write_text("x")
    with exclusive(tmp_path):
        assert not leftover.exists()
        with pytest.raises(BidsTargetError, match="another export is writing"):
            with exclusive(tmp_path):
                pass  # pragma: no cover - refused before
    with exclusive(tmp_path):  # released at the end
        assert [p.name for p in (tmp_path / STAGING).iterdir()] == ["lock"]


def test_the_target_check(tmp_path: Path) -> None:
    check_target(tmp_path / "new", "http://x/data/projects/P")
    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty", "http://x/data/projects/P")
    (tmp_path / "file").write_text("x")
    with pytest.raises(BidsTargetError, match="is a file"):
        check_target(tmp_path / "file", "http://x/data/projects/P")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dataset_description.json").write_text('{"Name": "P", "SourceDatasets": [{"URL": "http://x/data/projects/P"}]}')
    check_target(mine, "http://x/data/projects/P")
    with pytest.raises(BidsTargetError, match="holds another dataset"):
        check_target(mine, "http://x/data/projects/Q")
    (mine / "dataset_description.json").write_text("{broken")
    with pytest.raises(BidsTargetError, match="not readable JSON"):
        check_target(mine, "http://x/data/projects/P")


def test_records_say_whether_a_session_is_current(tmp_path: Path) -> None:
    record = {"experiment_id": "E1", "digest": "d1", "files": [{"path": "sub-1/a.nii.gz"}], "failed": []}
    write_record(tmp_path, record)
    assert read_record(tmp_path, "E1") == record and list(read_records(tmp_path)) == ["E1"]
    assert not is_current(record, "d1", tmp_path)                    # its file is missing
    (tmp_path / "sub-1").mkdir()
    (tmp_path / "sub-1" / "a.nii.gz").write_text("x")
    assert is_current(record, "d1", tmp_path)
    assert not is_current(record, "d2", tmp_path)                    # the sources changed
    assert not is_current({**record, "failed": [{"scan_id": "3"}]}, "d1", tmp_path)  # a failure runs again
    assert record_path(tmp_path, "../../E2").parent == record_path(tmp_path, "E1").parent
    record_path(tmp_path, "E3").write_text("{cut off")
    assert list(read_records(tmp_path)) == ["E1"]                    # an unreadable record: that session runs again


def test_the_mapping_refuses_ids_that_are_not_ids() -> None:
    row = {"filename": "sub-1/ses-1/anat/x.nii.gz", "project": "P", "subject_id": "S", "experiment_id": "E",
           "experiment_label": "L", "subject_label": "s", "scan_id": "1", "scan_type": "T1", "source": "dicom"}
    assert session_index([row])[("1", "1")]["experiment_id"] == "E"
    with pytest.raises(BidsTargetError, match="is not an XNAT ID"):
        session_index([{**row, "experiment_id": "../../users"}])
