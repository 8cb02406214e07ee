"""``participants.tsv`` in BIDS' names, and its ``participants.json`` sidecar.

The subject fields a user selects (``participant_fields``) are read from XNAT's
demographics and become BIDS' columns where BIDS has a name for them:

* ``gender`` -> ``sex``, as ``M``/``F``/``O`` (BIDS' recommended values; XNAT's
  ``unknown`` and empty are ``n/a``);
* ``age``, ``yob`` and ``dob`` -> ``age`` in years: XNAT's age where it is set, else from
  the date of birth, else from the year of birth (then the year of the session minus the
  year of birth: it may be one year more than the true age), at the session's date. A
  subject's ``age`` is the one at their first exported session; ``yob`` and ``dob`` never
  reach the dataset (they identify a person more than an age does);
* ``handedness`` -> ``handedness`` as ``R``/``L``/``A``.

Any other field keeps its XNAT name. ``participants.json`` describes every column.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..exceptions import XNATValueError

__all__ = ["AGE_SOURCES", "bids_columns", "participant_values", "participants_rows", "sidecar"]

#: XNAT fields from which ``age`` is found, in order of precedence.
AGE_SOURCES = ("age", "dob", "yob")
_RENAMED = {"gender": "sex", **dict.fromkeys(AGE_SOURCES, "age"), "handedness": "handedness"}
_SEX = {"male": "M", "m": "M", "female": "F", "f": "F", "other": "O", "o": "O"}
_HANDEDNESS = {"right": "R", "r": "R", "left": "L", "l": "L", "ambidextrous": "A", "a": "A"}
_SIDECAR: dict[str, dict[str, Any]] = {
    "participant_id": {"Description": "The participant: sub- and the XNAT subject's label, sanitised "
                                      "(code/xnat/mapping.tsv links it to the XNAT subject)"},
    "sex": {"Description": "Sex of the participant, from the XNAT subject's gender",
            "Levels": {"M": "male", "F": "female", "O": "other"}},
    "age": {"Description": "Age of the participant at their first exported session, from XNAT's age, date "
                           "of birth or year of birth (from the year of birth it may be one year more)",
            "Units": "year"},
    "handedness": {"Description": "Handedness of the participant, from XNAT",
                   "Levels": {"R": "right", "L": "left", "A": "ambidextrous"}},
}


def bids_columns(fields: Sequence[str]) -> list[str]:
    """The columns of ``participants.tsv`` (after ``participant_id``) for the selected XNAT ``fields``."""
    columns: list[str] = []
    for name in fields:
        column = _RENAMED.get(name, name)
        if column not in columns:
            columns.append(column)
    return columns


def participant_values(subject: Any, fields: Sequence[str], session_date: Any) -> dict[str, str | None]:
    """column -> value for one subject, at one session (its ``date``, for the age).

    :raises XNATValueError: the subject has no such field
    """
    read = {name: _field(subject, name) for name in fields}
    values: dict[str, str | None] = {}
    for name in fields:
        column = _RENAMED.get(name, name)
        if column == "sex":
            values[column] = _SEX.get(str(read[name] or "").strip().lower())
        elif column == "handedness":
            values[column] = _HANDEDNESS.get(str(read[name] or "").strip().lower())
        elif column == "age":
            values[column] = _age(subject, session_date)
        else:
            values[column] = None if read[name] is None else str(read[name])
    return values


def participants_rows(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """sub -> the values of one row, from every exported session's record of that subject:
    the smallest ``age`` (the first session's), else the first value that is set."""
    rows: dict[str, dict[str, Any]] = {}
    for record in records:
        values = record.get("participant") or {}
        row = rows.setdefault(str(record["sub"]), {})
        for column in columns:
            value = values.get(column)
            if value in (None, ""):
                continue
            if column == "age" and row.get("age") not in (None, ""):
                row["age"] = min(row["age"], value, key=float)
            else:
                row.setdefault(column, value)
    return rows


def sidecar(columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``participants.json``: a description of every column."""
    found = {"participant_id": _SIDECAR["participant_id"]}
    for column in columns:
        found[column] = _SIDECAR.get(column, {"Description": f"The XNAT subject field {column!r}"})
    return found


def _field(subject: Any, name: str) -> Any:
    demographics = getattr(subject, "demographics", None)
    for holder in (demographics, subject):
        try:
            return getattr(holder, name)
        except AttributeError:
            continue
    raise XNATValueError(f"subject {subject.label!r} has no field {name!r} (try gender, age, yob, handedness, ...)")


def _age(subject: Any, session_date: Any) -> str | None:
    age = _optional(subject, "age")
    if age not in (None, ""):
        return str(int(float(age)))
    when = _date(session_date)
    if when is None:
        return None
    born = _date(_optional(subject, "dob"))
    if born is not None:
        years = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
    else:
        try:
            years = when.year - int(str(_optional(subject, "yob")))
        except ValueError:  # no year of birth (None), or not a year
            return None
    return str(years) if years >= 0 else None  # born after the session: the dates are wrong, not the age


def _optional(subject: Any, name: str) -> Any:
    try:
        return _field(subject, name)
    except XNATValueError:
        return None


def _date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
