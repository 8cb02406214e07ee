"""Durations in PostgreSQL's interval notation, as XNAT's preferences take them.

XNAT's ``sessionTimeout`` site preference is such an interval (``"15 minutes"`` by default,
``"1 hour"``, ``"1 hour 30 minutes"``); PostgreSQL also reads ``"00:15:00"``, abbreviated units
(``"15 min"``, ``"2h"``) and a bare number of seconds. :func:`seconds_of` reads those forms
and refuses anything else with a :class:`ValueError` that says what it takes.
"""

from __future__ import annotations

import re

__all__ = ["interval_text", "seconds_of"]

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
_CLOCK = re.compile(r"(\d+):([0-5]?\d)(?::([0-5]?\d))?")
_TAKES = "a duration such as '15 minutes', '1 hour 30 minutes', '00:15:00' or a number of seconds"


def seconds_of(value: object) -> float:
    """The number of seconds ``value`` (an interval text or a number) stands for; above zero."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not {_TAKES}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        seconds = _parse(str(value).strip().lower())
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{value!r} is not {_TAKES} above zero")
    return seconds


def _parse(text: str) -> float:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    clock = _CLOCK.fullmatch(text)
    if clock:
        hours, minutes, seconds = (int(part or 0) for part in clock.groups())
        return float(hours * 3600 + minutes * 60 + seconds)
    total, position = 0.0, 0
    for match in _PART.finditer(text):
        if match.start() != position or match.group(2) not in _UNITS:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        raise ValueError(f"{text!r} is not {_TAKES}")
    return total


def interval_text(seconds: float) -> str:
    """``seconds`` as XNAT writes the preference: ``"15 minutes"``, ``"1 hour"``, ``"90 seconds"``."""
    whole = int(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if whole == seconds and whole % size == 0:
            count = whole // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:g} seconds"
