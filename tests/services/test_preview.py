"""Pictures of scans and sessions (``xnat.services.thumbnail``, ``xnat.services.preview``).

The display rules are checked on arrays (no server); fetching, choosing the file and the
frame, caching and every way of having no picture are checked against the embedded server
over HTTP, with DICOM files written by pydicom here.
"""

from __future__ import annotations

import io
import logging
import sys
from types import SimpleNamespace
from typing import Any

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("PIL")
pydicom = pytest.importorskip("pydicom")

from PIL import Image  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, generate_uid  # noqa: E402

from xnat.exceptions import XNATIOError, XNATValueError  # noqa: E402
from xnat.services import preview  # noqa: E402
from xnat.services.thumbnail import contact_sheet_png, display_image, thumbnail_png  # noqa: E402
from xnat.transfer.remotefile import RemoteFile  # noqa: E402

MR = "1.2.840.10008.5.1.4.1.1.4"


def dicom_bytes(pixels: Any, syntax: str = ExplicitVRLittleEndian, **header: Any) -> bytes:
    """A DICOM file of ``pixels`` (2-D, or frames x rows x columns), unsigned 16-bit."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MR, meta.MediaStorageSOPInstanceUID, "MR"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    for name, value in header.items():
        setattr(ds, name, value)
    if syntax == ExplicitVRLittleEndian:
        ds.PixelData = pixels.astype("<u2").tobytes()
    else:  # encapsulated, as a compressing scanner writes it: bytes no installed decoder reads
        ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8not really jpeg-ls\xff\xd9"])
        ds["PixelData"].VR = "OB"
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def gradient(rows: int = 64, columns: int = 64) -> Any:
    return np.tile(np.arange(columns, dtype=np.uint16) * 10, (rows, 1))


def png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


# -- display rules (no server) ------------------------------------------------------------


def test_the_files_window_is_used_when_it_has_one():
    values = np.array([[0, 90, 100, 110, 500]], dtype=np.uint16)
    image = display_image(values, SimpleNamespace(WindowCenter=100, WindowWidth=20))
    assert image[0, 0] == 0 and image[0, 4] == 255  # outside the window: black, white
    assert image[0, 1] < 30 and 120 <= image[0, 2] <= 140 and image[0, 3] > 225


def test_the_first_of_several_windows_is_used():
    values = np.array([[0, 100, 200]], dtype=np.uint16)
    image = display_image(values, SimpleNamespace(WindowCenter=pydicom.multival.MultiValue(float, [100, 1000]),
                                                  WindowWidth=pydicom.multival.MultiValue(float, [100, 10])))
    assert list(image[0]) == [0, 129, 255]  # PS3.3 C.11.2.1.2.1: ((100 - 99.5) / 99 + 0.5) * 255


def test_without_a_window_a_hot_pixel_does_not_flatten_the_picture():
    values = gradient(50, 50)
    values[0, 0] = 60000
    image = display_image(values, SimpleNamespace())
    assert image[10, 1] < 20 and image[10, 48] > 235  # the gradient spans black to white


def test_rescale_applies_before_the_window():
    stored = np.array([[0, 50, 100]], dtype=np.uint16)
    # stored * 2 - 100 -> -100, 0, 100: a window around 0 puts the middle value mid-grey.
    image = display_image(stored, SimpleNamespace(RescaleSlope=2, RescaleIntercept=-100, WindowCenter=0,
                                                  WindowWidth=101))
    assert image[0, 0] == 0 and image[0, 2] == 255 and 120 <= image[0, 1] <= 135


def test_monochrome1_is_inverted():
    values = gradient()
    normal = display_image(values, SimpleNamespace(PhotometricInterpretation="MONOCHROME2"))
    inverted = display_image(values, SimpleNamespace(PhotometricInterpretation="MONOCHROME1"))
    assert (normal.astype(int) + inverted == 255).all()


def test_a_flat_picture_is_black_not_an_error():
    assert display_image(np.full((8, 8), 7, dtype=np.uint16), SimpleNamespace()).max() == 0


def test_colour_pixels_are_scaled_to_8_bits():
    rgb = np.zeros((4, 4, 3), dtype=np.uint16)
    rgb[..., 0] = 1000
    image = display_image(rgb, SimpleNamespace(WindowCenter=0, WindowWidth=1))  # no window on colour
    assert image.shape == (4, 4, 3) and image[0, 0, 0] == 255 and image[0, 0, 1] == 0


def test_a_thumbnail_has_the_size_asked_on_its_longest_side():
    image = display_image(gradient(32, 64), SimpleNamespace())
    assert png_size(thumbnail_png(image, 128)) == (128, 64)
    for bad in (0, 15, 5000, 2.5, True):
        with pytest.raises(ValueError, match="size must be a whole number of pixels from 16 to 4096"):
            thumbnail_png(image, bad)


def test_a_contact_sheet_shows_every_tile_with_or_without_a_picture():
    image = display_image(gradient(), SimpleNamespace())
    png = contact_sheet_png([("1 T1", image), ("2 no DICOM", None), ("3 T2", image)], size=100, columns=2)
    width, height = png_size(png)
    assert width == 200 and height > 200  # two rows of tiles with captions
    with pytest.raises(ValueError, match="at least one tile"):
        contact_sheet_png([])


# -- against the embedded server ------------------------------------------------------------


@pytest.fixture
def mr(connection: Any, project: str) -> Any:
    """An empty MR session in a new project."""
    classes = connection.classes
    subject = classes.SubjectData(parent=connection.projects[project], label=f"{project}_S")
    return classes.MrSessionData(parent=subject, label=f"{project}_MR")


def add_scan(mr: Any, scan_id: str, files: dict[str, bytes], label: str = "DICOM") -> Any:
    classes = mr.xnat_session.classes
    scan = classes.MrScanData(parent=mr, id=scan_id, type=f"type{scan_id}")
    if files:
        resource = classes.ResourceCatalog(parent=scan, label=label, format="DICOM")
        for name, data in files.items():
            resource.upload_data(data, name)
    return mr.scans[scan_id]


def picture(png: bytes) -> Any:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=int)


def test_a_scan_thumbnail_comes_from_its_dicom(mr):
    scan = add_scan(mr, "1", {"a.dcm": dicom_bytes(gradient(32, 64))})
    png = scan.preview()
    assert png.startswith(b"\x89PNG") and png_size(png) == (256, 128)
    pixels = picture(png)
    assert pixels[:, :20].mean() < 40 and pixels[:, -20:].mean() > 215  # the gradient, left dark to right bright


def test_the_middle_file_in_natural_name_order_is_shown(mr):
    dark, bright = np.zeros((16, 16), np.uint16), np.full((16, 16), 1000, np.uint16)
    bright[0, 0] = 0  # not flat, so that the percentile window shows it bright
    files = {"img-1.dcm": dicom_bytes(dark, WindowCenter=500, WindowWidth=1000),
             "img-2.dcm": dicom_bytes(bright, WindowCenter=500, WindowWidth=1000),
             "img-10.dcm": dicom_bytes(dark, WindowCenter=500, WindowWidth=1000)}
    scan = add_scan(mr, "2", files)
    assert picture(scan.preview(size=32))[8:, 8:].mean() > 200  # img-2, not img-10 (the middle by plain sort)


def test_the_middle_frame_of_a_multi_frame_file_is_read_by_byte_ranges(mr, monkeypatch):
    frames = np.zeros((25, 256, 256), np.uint16)
    frames[12, :128, :] = 1000  # only the middle frame has a bright top half
    data = dicom_bytes(frames)
    scan = add_scan(mr, "3", {"multi.dcm": data})
    fetched = []
    real = RemoteFile._get_range

    def counted(self, start, stop):
        fetched.append(stop - start)
        return real(self, start, stop)

    monkeypatch.setattr(RemoteFile, "_get_range", counted)
    pixels = picture(scan.preview(size=64))
    assert pixels[:32].mean() > 200 and pixels[32:].mean() < 30
    assert len(fetched) >= 2 and sum(fetched) < len(data) / 3  # the header block and the frame's, not the file


def test_a_server_that_ignores_range_still_gives_the_picture(mr, monkeypatch):
    from xnat.testing.handlers import files as file_handlers

    real_send_file = file_handlers.send_file

    def whole_file(*args, **kwargs):  # as a server without Range support: 200 and every byte
        return real_send_file(*args, **{**kwargs, "conditional": False})

    monkeypatch.setattr(file_handlers, "send_file", whole_file)
    skipped = []
    real_slice = RemoteFile._slice_of_full_body

    def sliced(response, start, stop):
        skipped.append(response.status_code)
        return real_slice(response, start, stop)

    monkeypatch.setattr(RemoteFile, "_slice_of_full_body", staticmethod(sliced))
    frames = np.zeros((3, 64, 64), np.uint16)
    frames[1, :32] = 1000
    scan = add_scan(mr, "11", {"multi.dcm": dicom_bytes(frames)})
    pixels = picture(scan.preview(size=64))
    assert pixels[:32].mean() > 200 and pixels[32:].mean() < 30
    assert skipped and set(skipped) == {200}  # the body came whole, read up to what was needed


def test_a_picture_is_cached_per_scan_and_refresh_reads_again(mr):
    scan = add_scan(mr, "4", {"a.dcm": dicom_bytes(gradient())})
    first = scan.preview()
    scan.resources["DICOM"].files["a.dcm"].delete()
    assert scan.preview() == first  # no request: from the cache
    with pytest.raises(XNATValueError, match="has no DICOM files to preview"):
        scan.preview(refresh=True)
    preview.clear_previews(mr.xnat_session)


def test_a_scan_without_dicom_says_so_and_shows_nothing_in_a_notebook(mr, caplog):
    scan = add_scan(mr, "5", {"T1w.nii.gz": b"not dicom"}, label="NIFTI")
    with pytest.raises(XNATValueError, match=r"scans/5 has no DICOM files to preview \(its resources: NIFTI\)"):
        scan.preview()
    with caplog.at_level(logging.INFO, logger="xnat.services.preview"):
        assert scan._repr_png_() is None
    assert "has no DICOM files to preview" in caplog.text


def test_a_compressed_file_pydicom_decodes_is_shown(mr):
    frames = np.zeros((5, 32, 32), np.uint16)
    frames[2, :16] = 1000  # the middle frame: bright top half
    ds = pydicom.dcmread(io.BytesIO(dicom_bytes(frames)))
    ds.compress(pydicom.uid.RLELossless)
    out = io.BytesIO()
    ds.save_as(out)
    scan = add_scan(mr, "10", {"rle.dcm": out.getvalue()})
    pixels = picture(scan.preview(size=32))
    assert pixels[:16].mean() > 200 and pixels[16:].mean() < 30


def test_pixels_no_decoder_reads_are_a_clear_error(mr):
    scan = add_scan(mr, "6", {"c.dcm": dicom_bytes(gradient(), syntax=JPEGLSLossless)})
    with pytest.raises(XNATValueError, match=r"c.dcm: cannot decode its pixels \(JPEG-LS Lossless"):
        scan.preview()
    assert scan._repr_png_() is None


def test_a_file_that_is_not_dicom_in_the_dicom_resource(mr):
    scan = add_scan(mr, "7", {"notes.txt": b"hello" * 100})
    with pytest.raises(XNATValueError, match="notes.txt is not a DICOM file"):
        scan.preview()


def test_a_file_cut_short_is_a_clear_error_and_no_picture_in_a_notebook(mr):
    whole = dicom_bytes(gradient())
    scan = add_scan(mr, "12", {"cut.dcm": whole[:154]})  # in the middle of an element's header
    with pytest.raises(XNATValueError, match="cut.dcm is not a DICOM file"):
        scan.preview()
    assert scan._repr_png_() is None
    header_only = add_scan(mr, "15", {"header.dcm": whole[:300]})  # whole elements, no image ones
    with pytest.raises(XNATValueError, match=r"header.dcm holds no image \(no pixel data\)"):
        header_only.preview()
    pixels_cut = add_scan(mr, "13", {"half.dcm": whole[: len(whole) - 2000]})
    with pytest.raises(XNATValueError, match=r"half.dcm: cannot decode its pixels \(Explicit VR Little Endian\)"):
        pixels_cut.preview()


def test_a_server_error_while_reading_is_not_taken_for_bad_dicom(mr, monkeypatch):
    from xnat.exceptions import XNATResponseError

    scan = add_scan(mr, "14", {"a.dcm": dicom_bytes(gradient())})

    def refused(self, start, stop):
        raise XNATResponseError("GET .../a.dcm failed: 503 Service Unavailable")

    monkeypatch.setattr(RemoteFile, "_get_range", refused)
    with pytest.raises(XNATResponseError, match="503 Service Unavailable"):
        scan.preview()
    assert scan._repr_png_() is None


def test_without_the_extra_preview_says_what_to_install_and_a_notebook_shows_nothing(mr, monkeypatch):
    scan = add_scan(mr, "8", {"a.dcm": dicom_bytes(gradient())})
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'xnat\[dicom\]'"):
        scan.preview()
    assert scan._repr_png_() is None
    assert mr._repr_png_() is None


def test_repr_makes_no_request(mr, monkeypatch):
    scan = add_scan(mr, "9", {"a.dcm": dicom_bytes(gradient())})

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("repr() asked for a picture")

    monkeypatch.setattr(mr.xnat_session, "get", refuse)
    monkeypatch.setattr(preview, "scan_image", refuse)
    assert "MrScanData" in repr(scan) and "MrSessionData" in repr(mr)


def test_a_session_contact_sheet_has_a_tile_per_scan(mr, tmp_path):
    add_scan(mr, "1", {"a.dcm": dicom_bytes(gradient())})
    add_scan(mr, "2", {})
    add_scan(mr, "3", {"b.dcm": dicom_bytes(gradient(), PhotometricInterpretation="MONOCHROME1")})
    target = tmp_path / "sheet.png"
    png = mr.preview(target, size=100)
    assert target.read_bytes() == png
    width, height = png_size(png)
    assert width == 300 and 100 < height < 130
    assert mr._repr_png_() == mr.preview()  # the default tile size, from the cache


def test_a_session_with_nothing_to_show_says_why(mr):
    with pytest.raises(XNATValueError, match="has no scan to preview: it has no scans"):
        mr.preview()
    add_scan(mr, "1", {})
    with pytest.raises(XNATValueError, match="has no scan to preview: .*scans/1 has no DICOM files"):
        mr.preview()
    assert mr._repr_png_() is None


def test_a_target_that_cannot_be_written_is_named(mr, tmp_path):
    scan = add_scan(mr, "1", {"a.dcm": dicom_bytes(gradient())})
    with pytest.raises(XNATIOError, match=f"cannot write the preview to {tmp_path}/missing/x.png"):
        scan.preview(tmp_path / "missing" / "x.png")
