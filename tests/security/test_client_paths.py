"""Boundaries of the local names made from server-given paths (found by mutation testing:
each assertion here kills a mutant that survived the other tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xnat.exceptions import XNATIOError
from xnat.transfer import safe_component, safe_relpath
from xnat.transfer.paths import MAX_COMPONENT_BYTES, MAX_DEPTH, temp_name


def test_depth_is_refused_just_past_the_bound():
    assert len(safe_relpath("a/" * (MAX_DEPTH - 1) + "f").parts) == MAX_DEPTH
    with pytest.raises(XNATIOError):
        safe_relpath("a/" * MAX_DEPTH + "f")


def test_a_component_is_shortened_only_past_255_bytes():
    exact = "x" * (MAX_COMPONENT_BYTES - 4) + ".dcm"
    assert safe_component(exact) == exact
    longer = "y" + exact
    short = safe_component(longer)
    assert short != longer and len(short.encode("utf-8")) <= MAX_COMPONENT_BYTES


def test_a_shortened_name_keeps_its_last_extension_and_stays_unique():
    first = safe_component("scan.v2." + "x" * 300 + ".nii")
    second = safe_component("scan.v2." + "x" * 301 + ".nii")
    assert first.endswith(".nii") and second.endswith(".nii") and first != second
    assert len(first.encode("utf-8")) <= MAX_COMPONENT_BYTES
    multibyte = safe_component("é" * 200 + ".dcm")
    assert multibyte.endswith(".dcm") and len(multibyte.encode("utf-8")) <= MAX_COMPONENT_BYTES
    assert multibyte.startswith("é" * 50)


def test_trailing_dots_and_spaces_go_but_other_letters_stay():
    assert safe_component("name. .") == "name"
    assert safe_component("XXname") == "XXname"
    assert safe_component("nameX") == "nameX"


def test_a_temporary_name_is_hidden_and_marked_partial():
    name = temp_name(Path("/somewhere/scan.dcm"))
    assert name == ".scan.dcm."
    long = temp_name(Path("é" * 200))
    assert long.startswith(".é") and long.endswith(".") and len(long.encode("utf-8")) <= 202
