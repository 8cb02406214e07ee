"""The client's quicker link checks (issue 16), as a mutation run found them unguarded.

``transfer.paths.local_path`` resolves a folder only when ``lstat`` finds a link on the way,
and ``unzip`` decides with one ``lstat`` whether the target is a folder. Each test kills a
mutant that survived ``python -m tests.mutation.run client`` (CONTRIBUTING.rst, "Mutation
testing"): a folder that cannot be examined still gets the full check, and a link at an
entry's target is replaced by the entry, never written through.
"""

from __future__ import annotations

import errno
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from xnat.exceptions import XNATIOError
from xnat.transfer import extract_zip_stream
from xnat.transfer.paths import local_path


def test_a_folder_that_cannot_be_examined_is_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An lstat that fails (other than "not there") counts as a link: the full check decides."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "a").symlink_to(outside)
    real_lstat, refused = os.lstat, list[str]()

    def lstat_failing_once(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if os.fspath(path) == os.fspath(root / "a") and not refused:
            refused.append(os.fspath(path))
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat_failing_once)
    with pytest.raises(XNATIOError, match="leads outside"):
        local_path(root, "a/f.txt")
    assert refused


def test_overwrite_replaces_a_link_at_the_target_and_leaves_its_file_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    target = tmp_path / "target"
    target.mkdir()
    (target / "f.txt").symlink_to(outside)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("f.txt", b"new")
    extract_zip_stream([buffer.getvalue()], target, overwrite=True)
    assert not (target / "f.txt").is_symlink() and (target / "f.txt").read_bytes() == b"new"
    assert outside.read_bytes() == b"keep"
