"""``xnat ls PATH --preview OUT.png``: a scan's thumbnail or a session's contact sheet, on the demo study.

The demo's localizers hold synthetic DICOM (:mod:`xnat.testing.phantom`); its other scans
hold none, which is what a scan without a picture looks like.
"""

from __future__ import annotations

import io

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("pydicom")
Image = pytest.importorskip("PIL.Image")

SESSION = "DEMO/DEMO_001/DEMO_001_MR1"


def pixels(path):
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("L"), dtype=int)


def test_a_scan_thumbnail(cli, as_admin, tmp_path):
    out = tmp_path / "localizer.png"
    result = cli("ls", f"{SESSION}/1", "--preview", str(out))
    assert result.code == 0, result.err
    assert result.out == f"wrote {out} ({out.stat().st_size} bytes): the thumbnail of scan {SESSION}/1\n"
    picture = pixels(out)
    assert picture.shape == (256, 256)
    assert picture.std() > 20 and (picture > 40).mean() > 0.3  # a head, not a blank square


def test_a_contact_sheet_of_a_session_and_a_size(cli, as_admin, tmp_path):
    out = tmp_path / "sheet.png"
    result = cli("ls", SESSION, "--preview", str(out), "--size", "100")
    assert result.code == 0, result.err
    assert result.out.endswith(f"the contact sheet of the scans of {SESSION}\n")
    picture = pixels(out)
    assert picture.shape[1] == 300  # three scans, one tile each
    assert picture[:, :100].std() > 20 and picture[:100, 100:].max() < 128  # the localizer; empty tiles


def test_a_scan_without_dicom_says_so(cli, as_admin, tmp_path):
    result = cli("ls", f"{SESSION}/3", "--preview", str(tmp_path / "x.png"))
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("xnat: error: /data/")
    assert result.err_lines[0].endswith("/scans/3 has no DICOM files to preview (its resources: none)")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["ls", "DEMO", "--preview", "x.png"],
     "xnat: error: --preview needs PATH to a session (P/S/E) or a scan (P/S/E/SCAN), not 'DEMO'"),
    (["ls", f"{SESSION}/1/DICOM", "--preview", "x.png"],
     f"xnat: error: --preview needs PATH to a session (P/S/E) or a scan (P/S/E/SCAN), not '{SESSION}/1/DICOM'"),
    (["ls", SESSION, "--preview", "x.png", "--column", "ID"],
     "xnat: error: --preview writes a picture: it takes no --resources, --resource, --filter or --column"),
    (["ls", SESSION, "--size", "100"], "xnat: error: --size goes with --preview OUT.png"),
    (["ls", f"{SESSION}/1", "--preview", "x.png", "--size", "5"],
     "xnat: error: --size: size must be a whole number of pixels from 16 to 4096, not 5"),
])
def test_bad_preview_options(cli, as_admin, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    result = cli(*argv)
    assert (result.code, result.err_lines) == (1, [message])
    assert not (tmp_path / "x.png").exists()


def test_a_target_folder_that_does_not_exist(cli, as_admin, tmp_path):
    out = tmp_path / "missing" / "x.png"
    result = cli("ls", f"{SESSION}/1", "--preview", str(out))
    assert (result.code, result.err_lines) == (
        1, [f"xnat: error: cannot write the preview to {out}: No such file or directory"])


def test_without_the_extra_the_error_says_what_to_install(cli, as_admin, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "PIL", None)
    result = cli("ls", f"{SESSION}/1", "--preview", str(tmp_path / "x.png"))
    assert (result.code, result.err_lines) == (
        1, ["xnat: error: previews need pydicom, numpy and Pillow: pip install 'xnat[dicom]'"])
