"""Server-given names made safe for the local file system."""

from __future__ import annotations

import os

import pytest

from xnat.exceptions import XNATIOError
from xnat.transfer import safe_component, safe_relpath
from xnat.transfer.paths import local_path


@pytest.mark.parametrize(("name", "expected"), [
    ("scan.dcm", "scan.dcm"),
    ('a<b>c:d"e|f?g*h', "a_b_c_d_e_f_g_h"),
    ("tab\there\x00", "tab_here_"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("trailing. ", "trailing"),
    ("...", "_"),
    ("back\\slash", "back_slash"),
    # one component stays one: a server-given name cannot climb or nest through it
    ("../../E2", ".._.._E2"),
    ("..", "_"),
    ("a/b", "a_b"),
])
def test_safe_component(name, expected):
    assert safe_component(name) == expected


def test_long_names_keep_extension_and_stay_unique():
    first, second = safe_component("a" * 300 + ".dcm"), safe_component("a" * 299 + "b.dcm")
    assert first.endswith(".dcm") and len(first.encode()) <= 255
    assert first != second
    assert len(safe_component("é" * 200).encode()) <= 255


@pytest.mark.parametrize("name", ["../x", "a/../../x", "/abs", "C:/x", "C:", "\\\\host\\share", "", ".", "a/./"])
def test_unsafe_relpaths_refused(name):
    if name == "a/./":
        assert str(safe_relpath(name)) == "a"
        return
    with pytest.raises(XNATIOError, match="Refused"):
        safe_relpath(name)


def test_relpath_cleans_each_part():
    assert str(safe_relpath("scans//1/./DICOM/a:b.dcm")) == "scans/1/DICOM/a_b.dcm"


def test_local_path_refuses_symlinked_escape(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "link")
    assert local_path(tmp_path / "root", "a/b.txt") == tmp_path / "root" / "a" / "b.txt"
    with pytest.raises(XNATIOError, match="outside"):
        local_path(tmp_path / "root", "link/x.txt")


def test_local_path_finds_a_link_deeper_down_and_a_link_that_stays_inside(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", root / "a" / "b" / "out")
    os.symlink(root / "a", root / "inside")
    with pytest.raises(XNATIOError, match="outside"):
        local_path(root, "a/b/out/new/x.txt")  # the link is found even below folders that do not exist yet
    assert local_path(root, "inside/b/x.txt") == root / "inside" / "b" / "x.txt"  # resolves under root: fine


def test_local_path_resolves_nothing_when_no_link_is_on_the_way(tmp_path, monkeypatch):
    """A new folder costs one lstat, not a realpath of the root and the folder for every file (issue 16)."""
    (tmp_path / "existing").mkdir()

    def no_realpath(path, *args, **kwargs):
        raise AssertionError(f"realpath({path}) called")

    monkeypatch.setattr(os.path, "realpath", no_realpath)
    assert local_path(tmp_path, "existing/new/deeper/x.txt") == tmp_path / "existing" / "new" / "deeper" / "x.txt"
    assert local_path(tmp_path / "not-yet", "a/x.txt") == tmp_path / "not-yet" / "a" / "x.txt"


def test_temp_name_fits_for_long_multibyte_names(tmp_path):
    from pathlib import Path

    from xnat.transfer.paths import temp_name

    prefix = temp_name(Path("é" * 127 + ".dcm"))
    assert len((prefix + "0123abcd.part").encode()) <= 255
