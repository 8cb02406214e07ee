"""participants.tsv in BIDS' names: sex as M/F/O, age from age/dob/yob at the session, handedness; the sidecar."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.bids.conftest import T1_CONFIG
from xnat.bids.participants import bids_columns, participant_values, participants_rows, sidecar
from xnat.exceptions import XNATValueError

SESSION = datetime.date(2020, 6, 15)


def subject(**fields: Any) -> Any:
    defaults = {"gender": None, "age": None, "yob": None, "dob": None, "handedness": None}
    return SimpleNamespace(label="S1", demographics=SimpleNamespace(**{**defaults, **fields}))


def test_the_xnat_fields_take_bids_names_once() -> None:
    assert bids_columns(["gender", "yob", "age", "handedness", "race"]) == ["sex", "age", "handedness", "race"]


@pytest.mark.parametrize(("gender", "sex"), [("male", "M"), ("Female", "F"), ("other", "O"), ("unknown", None),
                                             (None, None), ("", None)])
def test_gender_becomes_sex_as_bids_recommends(gender: str | None, sex: str | None) -> None:
    assert participant_values(subject(gender=gender), ["gender"], SESSION) == {"sex": sex}


@pytest.mark.parametrize(("hand", "value"), [("right", "R"), ("left", "L"), ("ambidextrous", "A"),
                                             ("unknown", None)])
def test_handedness_as_bids_recommends(hand: str, value: str | None) -> None:
    assert participant_values(subject(handedness=hand), ["handedness"], SESSION) == {"handedness": value}


@pytest.mark.parametrize(("fields", "date", "age"), [
    ({"age": 41, "yob": 1900}, SESSION, "41"),                             # XNAT's age first
    ({"dob": datetime.date(1980, 6, 16)}, SESSION, "39"),                  # the day before the birthday
    ({"dob": "1980-06-15"}, SESSION, "40"),
    ({"yob": 1980}, SESSION, "40"),
    ({"yob": 1980}, "2020-01-01", "40"),                                   # a date as the server writes it
    ({"yob": 1980}, None, None),                                           # no session date: no age
    ({"yob": "not a year"}, SESSION, None),
    ({"yob": 2030}, SESSION, None),                                        # born after the session: no age
    ({}, SESSION, None),
])
def test_age_from_age_dob_or_yob_at_the_session(fields: dict[str, Any], date: Any, age: str | None) -> None:
    for chosen in ("age", "yob", "dob"):
        assert participant_values(subject(**fields), [chosen], date) == {"age": age}


def test_other_fields_keep_their_name_and_unknown_ones_are_refused() -> None:
    assert participant_values(subject(race="x"), ["race"], SESSION) == {"race": "x"}
    with pytest.raises(XNATValueError, match="has no field 'colour'"):
        participant_values(subject(), ["colour"], SESSION)


def test_a_subject_row_takes_the_age_at_the_first_session() -> None:
    records = [{"sub": "1", "participant": {"sex": "F", "age": "41"}},
               {"sub": "1", "participant": {"sex": None, "age": "9"}},
               {"sub": "2", "participant": {}}]
    assert participants_rows(records, ["sex", "age"]) == {"1": {"sex": "F", "age": "9"}, "2": {}}


def test_the_sidecar_describes_every_column() -> None:
    described = sidecar(["sex", "age", "race"])
    assert list(described) == ["participant_id", "sex", "age", "race"]
    assert described["sex"]["Levels"] == {"M": "male", "F": "female", "O": "other"}
    assert described["age"]["Units"] == "year" and "race" in described["race"]["Description"]


@pytest.mark.reference
def test_the_export_writes_bids_columns_and_the_sidecar(connection: Any, project: str, imported: Any,
                                                        tmp_path: Path, needs_dcm2niix: str) -> None:
    experiment = imported(project)
    demographics = connection.projects[project].subjects["Case001"].demographics
    demographics.gender, demographics.yob, demographics.handedness = "male", 1950, "left"
    connection.experiments[experiment.id].date = "2010-03-04"
    year = 2010
    dataset = tmp_path / "bids"
    fields = ["gender", "yob", "handedness"]
    connection.projects[project].export_bids(dataset, T1_CONFIG, participant_fields=fields)
    assert (dataset / "participants.tsv").read_text().splitlines() == [
        "participant_id\tsex\tage\thandedness", f"sub-Case001\tM\t{year - 1950}\tL"]
    assert list(json.loads((dataset / "participants.json").read_text())) == [
        "participant_id", "sex", "age", "handedness"]
    # a field changed on the server reaches participants.tsv without converting again
    demographics.gender = "female"
    report = connection.projects[project].export_bids(dataset, T1_CONFIG, participant_fields=fields)
    assert report.unchanged == [experiment.id]
    assert (dataset / "participants.tsv").read_text().splitlines()[1] == f"sub-Case001\tF\t{year - 1950}\tL"
