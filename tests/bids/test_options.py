"""dcm2bids' dcm2niixOptions: split like a shell, never run by one, each flag checked against dcm2niix's own."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from tests.bids.conftest import T1_CONFIG
from xnat.bids.config import load_config
from xnat.bids.errors import BidsConfigError
from xnat.bids.options import parse_options

ANAT = "sub-Case001/ses-Case001/anat/sub-Case001_ses-Case001_T1w"


@pytest.mark.parametrize(("text", "expected"), [
    ("", ()),
    ("-m y -i y", ("-m", "y", "-i", "y")),
    ("-b y -ba n -z n", ("-b", "y", "-ba", "n", "-z", "n")),
    ("-9 --terse -d 0", ("-9", "--terse", "-d", "0")),
    ("-c 'a comment'", ("-c", "a comment")),
    ("-n 123 -n 456", ("-n", "123", "-n", "456")),
    # dcm2bids' own default options: -f is left out (our names come from the descriptions)
    ("-b y -ba y -z y -f '%3s_%f_%p_%t'", ("-b", "y", "-ba", "y", "-z", "y")),
])
def test_dcm2niix_flags_with_values_of_their_kind_are_taken(text: str, expected: tuple[str, ...]) -> None:
    assert parse_options(text) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("-o /tmp/elsewhere", "-o is refused"),
    ("-br MyStudy", "-br is refused"),
    ("-b n", "-b takes y, not 'n'"),
    ("-b o", "-b takes y"),
    ("-e y", "-e is refused"),
    ("-g y", "-g is refused"),
    ("-r y", "-r is refused"),
    ("-z x", "-z takes one of y/o/i/n/3"),
    ("-d 10", "-d takes"),
    ("-c 'a comment longer than twenty four characters'", "a comment of up to 24 characters"),
    ("-m", "-m needs a value"),
    ("-m -i y", "-m needs a value"),
    ("-f", "-f needs a value"),
    ("--exec rm", "'--exec' is not a dcm2niix option"),
    ("-z y; rm -rf ~", "not 'y;'"),
    ("-z y && touch x", "'&&' is not a dcm2niix option"),
    ("$(touch x)", "'$(touch' is not a dcm2niix option"),
    ("-c 'unclosed", "cannot be split"),
    ("/some/dicom/folder", "'/some/dicom/folder' is not a dcm2niix option"),
])
def test_other_flags_values_and_shell_syntax_are_refused(text: str, says: str) -> None:
    with pytest.raises(BidsConfigError, match="dcm2niixOptions") as caught:
        parse_options(text)
    assert says in str(caught.value)


def test_the_options_reach_the_config_and_its_digest() -> None:
    plain = load_config(T1_CONFIG)
    chosen = load_config({**T1_CONFIG, "dcm2niixOptions": "-z n -f '%p'"})
    assert plain.dcm2niix_options == () and chosen.dcm2niix_options == ("-z", "n")
    assert plain.digest != chosen.digest  # other options: other files, so the sessions convert again
    with pytest.raises(BidsConfigError, match="a string of dcm2niix flags"):
        load_config({**T1_CONFIG, "dcm2niixOptions": ["-z", "n"]})


def test_a_dropped_file_name_pattern_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="xnat.bids.options"):
        parse_options("-f %p_%s")
    assert "-f %p_%s left out" in caplog.text


@pytest.mark.reference
def test_an_export_runs_dcm2niix_with_the_options(connection: Any, project: str, imported: Any, tmp_path: Path,
                                                  needs_dcm2niix: str) -> None:
    imported(project)
    dataset = tmp_path / "bids"
    config = {**T1_CONFIG, "dcm2niixOptions": "-b y -ba y -z n -f '%3s_%f_%p_%t' -c 'from xnat'"}
    report = connection.projects[project].export_bids(dataset, config)
    assert report.ok and report.series_converted == 3
    assert (dataset / f"{ANAT}.nii").stat().st_size > 0  # -z n: not compressed
    assert not (dataset / f"{ANAT}.nii.gz").exists()
    assert json.loads((dataset / f"{ANAT}.json").read_text())["SeriesDescription"] == "T1 SPIN ECHO"
