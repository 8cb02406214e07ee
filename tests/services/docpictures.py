"""The documentation's pictures, made from the embedded server: ``python -m tests.services.docpictures``.

``docs/pictures/case001-localizer.png`` is the thumbnail ``scan.preview()`` renders of the
Case001 sagittal localizer (``$XNAT_REFERENCE/dicom/Case001/4_SAG LOCALIZER``, three real
MR slices) uploaded to an embedded server; ``test_preview_reference.py`` renders it again
and checks that the committed picture is what the code makes. Run this module after a
change to the rendering, then commit the picture.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import xnat
from xnat.testing.runner import XNATServer

ROOT = Path(__file__).resolve().parents[2]
LOCALIZER_PICTURE = ROOT / "docs" / "pictures" / "case001-localizer.png"
LOCALIZER = Path("dicom") / "Case001" / "4_SAG LOCALIZER" / "DICOM"


def render_localizer(reference: Path) -> bytes:
    """The Case001 localizer's thumbnail, from an embedded server holding its three files."""
    files = sorted((reference / LOCALIZER).glob("*.dcm"))
    if len(files) != 3:
        raise FileNotFoundError(f"expected the 3 files of the Case001 localizer in {reference / LOCALIZER}")
    with tempfile.TemporaryDirectory(prefix="xnat-docpictures-") as folder, \
            XNATServer(data_dir=folder) as server, \
            xnat.connect(server.url, user="admin", password="admin", keepalive=False) as session:
        classes = session.classes
        project = classes.ProjectData(parent=session, id="CASE001", name="Case001")
        subject = classes.SubjectData(parent=project, label="Case001")
        mr = classes.MrSessionData(parent=subject, label="Case001_MR1")
        scan = classes.MrScanData(parent=mr, id="4", type="SAG LOCALIZER")
        resource = classes.ResourceCatalog(parent=scan, label="DICOM", format="DICOM")
        for path in files:
            resource.upload(path, path.name)
        return bytes(mr.scans["4"].preview())


def main() -> int:
    reference = Path(os.environ.get("XNAT_REFERENCE") or ROOT.parent / "shared" / "xnat-reference")
    png = render_localizer(reference)
    LOCALIZER_PICTURE.parent.mkdir(exist_ok=True)
    LOCALIZER_PICTURE.write_bytes(png)
    print(f"wrote {LOCALIZER_PICTURE.relative_to(ROOT)} ({len(png)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
