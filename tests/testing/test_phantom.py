"""The synthetic DICOM of the demo and --populate reads as DICOM, with the tags XNAT sorts by."""

from __future__ import annotations

import io

import pytest

from xnat.testing.phantom import MR_IMAGE_STORAGE, phantom_dicom, uid


def test_a_phantom_slice_is_a_dicom_file_with_its_identity():
    pydicom = pytest.importorskip("pydicom")
    data = phantom_dicom("SUBJ", "SUBJ_MR1", 4, "localizer", slice_number=2, slices=3, size=32)
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert (ds.SOPClassUID, ds.Modality, str(ds.PatientName), ds.PatientID) == (MR_IMAGE_STORAGE, "MR", "SUBJ", "SUBJ")
    assert (ds.StudyDescription, ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription) == (
        "SUBJ_MR1", 4, 2, "localizer")
    assert ds.StudyInstanceUID == uid("study", "SUBJ", "SUBJ_MR1")
    pixels = ds.pixel_array
    assert pixels.shape == (32, 32) and pixels.min() < 100 and pixels.max() == 1600


def test_slices_of_a_series_share_its_uids_and_differ_in_pixels():
    pydicom = pytest.importorskip("pydicom")
    first, middle = (pydicom.dcmread(io.BytesIO(phantom_dicom("S", "E", 1, "x", n, 5, size=32))) for n in (1, 3))
    assert first.SeriesInstanceUID == middle.SeriesInstanceUID
    assert first.SOPInstanceUID != middle.SOPInstanceUID
    assert (middle.pixel_array > 100).sum() > (first.pixel_array > 100).sum()  # the head is largest mid-series


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="slice_number must be from 1 to 3, not 4"):
        phantom_dicom("S", "E", 1, "x", 4, 3)
    with pytest.raises(ValueError, match="size must be from 8 to 512 pixels, not 4"):
        phantom_dicom("S", "E", 1, "x", size=4)

