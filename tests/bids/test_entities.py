"""XNAT labels as BIDS entities, and BIDS names."""

from __future__ import annotations

import pytest

from xnat.bids.entities import bids_name, parse_entities, sanitise
from xnat.bids.errors import BidsConfigError, BidsLabelError


@pytest.mark.parametrize(("label", "value"), [("Case001", "Case001"), ("Sub_01-A", "Sub01A"), ("MR 1.2", "MR12"),
                                              ("Zoë", "Zo")])
def test_labels_keep_their_letters_and_digits(label: str, value: str) -> None:
    assert sanitise(label, "sub") == value


@pytest.mark.parametrize("label", ["", "___", "é-è"])
def test_a_label_with_nothing_left_is_refused(label: str) -> None:
    with pytest.raises(BidsLabelError, match="cannot become a BIDS sub- entity"):
        sanitise(label, "sub")


def test_names_follow_the_specification_order() -> None:
    entities = {"run": "01", "acq": "se", "sub": "1", "ses": "a", "echo": "2"}
    assert bids_name(entities, "T1w") == "sub-1_ses-a_acq-se_run-01_echo-2_T1w"
    with pytest.raises(BidsConfigError, match="unknown BIDS entities"):
        bids_name({"sub": "1", "colour": "red"}, "T1w")


def test_custom_entities_as_text_or_list() -> None:
    assert parse_entities("acq-se_rec-norm") == parse_entities(["acq-se", "rec-norm"]) == (
        {"acq": "se", "rec": "norm"}, ())
    assert parse_entities(["task", "acq-se", "run"]) == ({"acq": "se"}, ("task", "run"))  # found by extractors
    assert parse_entities(None) == ({}, ())
