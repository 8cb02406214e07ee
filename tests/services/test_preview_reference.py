"""The Case001 localizer (real DICOM) previewed from the embedded server, and the docs' copy of it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("pydicom")
Image = pytest.importorskip("PIL.Image")

from tests.services.docpictures import LOCALIZER_PICTURE, render_localizer  # noqa: E402


def grey(png: bytes):
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


@pytest.mark.reference
def test_the_case001_localizer_thumbnail(reference: Path) -> None:
    png = render_localizer(reference)
    assert png.startswith(b"\x89PNG")
    picture = grey(png)
    assert picture.shape == (256, 256)  # the 256 x 256 slice, at the default size
    head = (picture > 40).mean()
    assert 0.25 < head < 0.9 and picture.std() > 30  # a head on a dark background, not a blank square
    # The docs show this very picture (regenerate: python -m tests.services.docpictures).
    committed = grey(LOCALIZER_PICTURE.read_bytes())
    assert committed.shape == picture.shape
    assert np.abs(committed - picture).mean() < 1.0
