"""dcm2bids 3 configurations: read, checked, and matched against sidecars as dcm2bids matches them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xnat.bids.config import load_config
from xnat.bids.errors import BidsConfigError


def one(criteria: dict[str, Any], **top: Any) -> Any:
    return load_config({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": criteria}], **top})


SIDECAR = {"SeriesDescription": "T1 SPIN ECHO", "EchoTime": 0.012, "ImageType": ["ORIGINAL", "PRIMARY"],
           "SeriesNumber": 2}


@pytest.mark.parametrize(("criteria", "top", "matches"), [
    ({"SeriesDescription": "T1*"}, {}, True),
    ({"SeriesDescription": "t1*"}, {}, False),
    ({"SeriesDescription": "t1*"}, {"case_sensitive": False}, True),
    ({"SeriesDescription": "T1 SPIN"}, {}, False),                          # fnmatch: the whole value
    ({"SeriesDescription": "T1 SPIN"}, {"search_method": "re"}, True),      # re: matched at the start
    ({"SeriesDescription": ".*ECHO$"}, {"search_method": "re"}, True),
    ({"EchoTime": 0.012}, {}, True),
    ({"EchoTime": {"lt": 0.02}}, {}, True),
    ({"EchoTime": {"gt": 0.02}}, {}, False),
    ({"EchoTime": {"btw": [0.01, 0.012]}}, {}, False),
    ({"EchoTime": {"btwe": [0.01, 0.012]}}, {}, True),
    ({"SeriesNumber": {"gte": 2}}, {}, True),
    ({"SeriesDescription": {"any": ["*FLAIR*", "*SPIN*"]}}, {}, True),
    ({"ImageType": ["ORIG*", "PRIMARY"]}, {}, True),
    ({"ImageType": ["ORIGINAL"]}, {}, False),
    ({"SidecarFilename": "scan2*"}, {}, True),
    ({"RepetitionTime": "*"}, {}, False),                                    # a field the sidecar lacks
    ({"SeriesDescription": "T1*", "EchoTime": {"gt": 1}}, {}, False),        # every criterion must hold
])
def test_criteria_match_as_dcm2bids_matches(criteria: dict[str, Any], top: dict[str, Any], matches: bool) -> None:
    config = one(criteria, **top)
    assert bool(config.matching(SIDECAR, "scan2")) is matches


def test_custom_entities_and_the_xnat_block_are_read() -> None:
    config = load_config({
        "descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"SeriesDescription": "*"},
                          "custom_entities": ["acq-se", "rec-norm"], "sidecar_changes": {"ProtocolName": "t1"}}],
        "xnat": {"nifti_resource": "NIFTI", "duplicates": "error"}})
    (description,) = config.descriptions
    assert description.entities == {"acq": "se", "rec": "norm"}
    assert description.sidecar_changes == {"ProtocolName": "t1"}
    assert (config.nifti_resource, config.dicom_resource, config.duplicates) == ("NIFTI", "DICOM", "error")


def test_the_digest_follows_the_content() -> None:
    assert one({"SeriesDescription": "T1*"}).digest == one({"SeriesDescription": "T1*"}).digest
    assert one({"SeriesDescription": "T1*"}).digest != one({"SeriesDescription": "T2*"}).digest


@pytest.mark.parametrize(("data", "message"), [
    ({}, "non-empty 'descriptions'"),
    ({"descriptions": [{"dataType": "anat", "suffix": "T1w", "criteria": {"a": "b"}}]}, "dcm2bids 3 calls it"),
    ({"descriptions": [{"datatype": "brain", "suffix": "T1w", "criteria": {"a": "b"}}]}, "not a BIDS datatype"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1 w", "criteria": {"a": "b"}}]}, "letters and digits"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {}}]}, "non-empty object"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "colour": 1}]}, "unknown keys"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": {"near": 1}}}]}, "a comparison"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": {"btw": [1]}}}]}, "two numbers"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "("}}], "search_method": "re"},
     "not a regular expression"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "custom_entities": "acq-"}]},
     "must be letters and digits only"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "custom_entities": "task"}]},
     r"no extractor with a group \(\?P<task>"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}],
      "extractors": {"SeriesDescription": ["task-[a-z]+"]}}, "has no named group"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}],
      "extractors": {"SeriesDescription": ["(?P<task"]}}, "not a regular expression"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "id": "t1"},
                       {"datatype": "anat", "suffix": "T2w", "criteria": {"a": "c"}, "id": "t1"}]}, "is taken"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}], "bids_uri": "absolute"},
     "'URI' or 'relative'"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "custom_entities": "foo-1"}]},
     "not a BIDS entity"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "custom_entities": "sub-1"}]},
     "come from the XNAT labels"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}, "custom_entities": "run-a"}]},
     "must be a number"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}], "post_op": [{"cmd": "rm"}]},
     "does not run them"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}], "dup_method": "dup"},
     "validator rejects"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}], "xnat": {"dups": 1}},
     "the 'xnat' block"),
    ({"descriptions": [{"datatype": "anat", "suffix": "T1w", "criteria": {"a": "b"}}],
      "xnat": {"duplicates": "merge"}}, "'run' or 'error'"),
])
def test_a_wrong_configuration_says_what_is_wrong(data: dict[str, Any], message: str) -> None:
    with pytest.raises(BidsConfigError, match=message):
        load_config(data)


def test_a_configuration_file_is_read_and_a_bad_one_named(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"descriptions": [{"datatype": "anat", "suffix": "T1w",
                                                  "criteria": {"SeriesDescription": "T1*"}}]}))
    assert load_config(path).descriptions[0].suffix == "T1w"
    path.write_text("{not json")
    with pytest.raises(BidsConfigError, match="not readable JSON"):
        load_config(path)
    with pytest.raises(BidsConfigError, match="no configuration file"):
        load_config(tmp_path / "missing.json")
