"""One session's series matched to descriptions: names, runs for duplicates, or a clear error; unmatched listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xnat.bids.config import load_config
from xnat.bids.convert import Series
from xnat.bids.errors import DuplicateMatchError
from xnat.bids.plan import Candidate, plan_session, sidecar_changes

CONFIG = {"descriptions": [
    {"datatype": "anat", "suffix": "T1w", "criteria": {"SeriesDescription": "*T1*"}},
    {"datatype": "func", "suffix": "bold", "criteria": {"SeriesDescription": "*rest*"}, "custom_entities": "task-rest"},
    {"datatype": "anat", "suffix": "T2w", "criteria": {"SeriesDescription": "*T2*"}},
]}


def candidate(scan: str, description: str, number: int, name: str | None = None) -> Candidate:
    sidecar: dict[str, Any] = {"SeriesDescription": description, "SeriesNumber": number}
    stem = Path("/nowhere") / (name or f"scan{scan}")
    return Candidate(scan, description, Series(stem, stem.with_name(stem.name + ".nii.gz"), sidecar), "dicom")


def test_each_series_gets_its_name_and_unmatched_ones_are_listed() -> None:
    plan = plan_session([candidate("2", "T1 MPRAGE", 2), candidate("3", "fMRI rest", 3),
                         candidate("1", "localizer", 1), candidate("4", "T1 T2 mix", 4)],
                        load_config(CONFIG), "01", "A")
    assert [(p.candidate.scan_id, p.relstem) for p in plan.placements] == [
        ("2", "anat/sub-01_ses-A_T1w"), ("3", "func/sub-01_ses-A_task-rest_bold")]
    assert [(u["scan_id"], u["reason"]) for u in plan.unmatched] == [
        ("1", "no description matches"),
        ("4", "several descriptions match: description 0 (anat/T1w), description 2 (anat/T2w)")]


def test_two_series_for_one_name_become_runs_in_acquisition_order() -> None:
    plan = plan_session([candidate("11", "T1 again", 11), candidate("2", "T1 first", 2)], load_config(CONFIG), "01",
                        "A")
    assert [(p.candidate.scan_id, p.relstem) for p in plan.placements] == [
        ("2", "anat/sub-01_ses-A_run-01_T1w"), ("11", "anat/sub-01_ses-A_run-02_T1w")]


def test_two_series_for_one_name_are_an_error_when_the_config_asks() -> None:
    config = load_config({**CONFIG, "xnat": {"duplicates": "error"}})
    with pytest.raises(DuplicateMatchError, match=r"scan 2 \(scan2\), scan 11 \(scan11\) all match description 0"):
        plan_session([candidate("2", "T1 first", 2), candidate("11", "T1 again", 11)], config, "01", "A")
    # one series per name is no duplicate
    assert len(plan_session([candidate("2", "T1", 2)], config, "01", "A").placements) == 1


def test_extractors_fill_the_entities_a_description_names() -> None:
    config = load_config({
        "extractors": {"SeriesDescription": ["task-(?P<task>[a-z_]+)", " run(?P<run>[0-9a-z]+)$"]},
        "descriptions": [{"datatype": "func", "suffix": "bold", "criteria": {"SeriesDescription": "*task-*"},
                          "custom_entities": ["task", "run", "acq-ep"]}]})
    plan = plan_session([candidate("5", "fmri task-n_back run2", 5), candidate("6", "fmri task-rest", 6),
                         candidate("7", "fmri task-rest runx", 7)], config, "01", "A")
    # n_back keeps its letters; run-x is no number, so run is left out and the two rest series become runs
    assert [(p.candidate.scan_id, p.relstem) for p in plan.placements] == [
        ("5", "func/sub-01_ses-A_task-nback_acq-ep_run-2_bold"),
        ("6", "func/sub-01_ses-A_task-rest_acq-ep_run-01_bold"),
        ("7", "func/sub-01_ses-A_task-rest_acq-ep_run-02_bold")]


@pytest.mark.parametrize(("bids_uri", "expected"), [
    ("URI", ["bids::sub-01/ses-A/func/sub-01_ses-A_task-rest_bold.nii.gz"]),
    ("relative", ["ses-A/func/sub-01_ses-A_task-rest_bold.nii.gz"]),
])
def test_ids_in_sidecar_changes_become_the_files_they_matched(bids_uri: str, expected: list[str]) -> None:
    config = load_config({"bids_uri": bids_uri, "descriptions": [
        {"id": "rest", "datatype": "func", "suffix": "bold", "criteria": {"SeriesDescription": "*rest*"},
         "custom_entities": "task-rest"},
        {"id": "dwi", "datatype": "dwi", "suffix": "dwi", "criteria": {"SeriesDescription": "*dwi*"}},
        {"datatype": "fmap", "suffix": "epi", "criteria": {"SeriesDescription": "*fmap*"},
         "custom_entities": "dir-AP", "sidecar_changes": {"IntendedFor": ["rest", "dwi"], "Note": "kept"}},
    ]})
    plan = plan_session([candidate("3", "fMRI rest", 3), candidate("4", "fmap", 4)], config, "01", "A")
    fieldmap = next(p for p in plan.placements if p.relstem.startswith("fmap/"))
    # "dwi" matched nothing in this session: it is left out
    assert sidecar_changes(fieldmap, plan.placements, config, "01", "A") == {"IntendedFor": expected, "Note": "kept"}
