"""The seed examples, as written for xnatpy and pyxnat, run against the embedded server."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

import xnat

DICOM_SCAN = "2_T1 SPIN ECHO"


def test_xnatpy_subject_session_scan_resource_upload_example(xnat_server, tmp_path) -> None:
    # The project has to exist already ("created via the XNAT UI").
    with xnat.connect(xnat_server.url, user="admin", password="admin") as admin:
        admin.put("/data/projects/projectID")
    file_path = tmp_path / "image.nii"
    file_path.write_bytes(b"\x5c\x01\x00\x00" + bytes(range(256)) * 40)

    # --- the seed, verbatim but for the server address, credentials and file path ---
    session = xnat.connect(xnat_server.url, user="admin", password="admin")
    project = session.projects['projectID']
    subject = session.classes.SubjectData(parent=project, label='new_subject_label')
    experiment = session.classes.MrSessionData(parent=subject, label='new_scan_label')
    scan = session.classes.MrScanData(parent=experiment, id='unique_scan_ID', type='new_scan_type')
    resource = session.classes.ResourceCatalog(parent=scan, label='NIFTI')
    resource.upload(str(file_path), 'uploaded_filename')
    # ---------------------------------------------------------------------------------

    # What the server now holds, read back through fresh listings.
    session.clearcache()
    subject_back = session.projects['projectID'].subjects['new_subject_label']
    assert subject_back is subject and subject_back.label == 'new_subject_label'
    experiment_back = subject_back.experiments['new_scan_label']
    assert experiment_back.__xsi_type__ == 'xnat:mrSessionData'
    scan_back = experiment_back.scans['unique_scan_ID']
    assert scan_back is scan and scan_back.type == 'new_scan_type' and scan_back.__xsi_type__ == 'xnat:mrScanData'
    files = scan_back.resources['NIFTI'].files
    assert list(files.keys()) == ['uploaded_filename']
    assert files['uploaded_filename'].size == file_path.stat().st_size
    assert files['uploaded_filename'].digest == hashlib.md5(file_path.read_bytes()).hexdigest()
    session.disconnect()


def test_xnatpy_with_connect_subjects_example(xnat_server_factory, capsys) -> None:
    server = xnat_server_factory(users=["admin:admin:admin"], populate="projects=1,subjects=2")
    with xnat.connect(server.url, user="admin", password="admin") as admin:
        admin.put("/data/projects/Sample_DICOM")
        for label in ("dcmtest1", "PACE_HF_SUPINE"):
            admin.put(f"/data/projects/Sample_DICOM/subjects/{label}")

    # --- the seed, verbatim but for the server address and credentials ---
    with xnat.connect(server.url, user="admin", password="admin") as session:
        subjects = session.projects['Sample_DICOM'].subjects
        print(f'Subjects in the SampleDICOM project: {subjects}')
    # ----------------------------------------------------------------------

    out = capsys.readouterr().out.strip()
    entry = r"\((XNAT_S\d+), ({label})\): <SubjectData \1 \(\2\)>"
    pattern = (r"^Subjects in the SampleDICOM project: <XNATListing "
               + entry.format(label="dcmtest1") + ", " + entry.format(label="PACE_HF_SUPINE").replace(r"\1", r"\3")
               .replace(r"\2", r"\4") + ">$")
    assert re.match(pattern, out), out


@pytest.fixture()
def xnat_download(xnat_server, reference) -> str:
    """Project xnatDownload: subject sub-001, session sub-001_ses-01, scan 3 with real DICOM."""
    dicom = sorted((reference / "dicom" / "Case001" / DICOM_SCAN / "DICOM").iterdir())[:3]
    with xnat.connect(xnat_server.url, user="admin", password="admin") as admin:
        admin.put("/data/projects/xnatDownload")
        admin.put("/data/projects/xnatDownload/subjects/sub-001")
        admin.put("/data/projects/xnatDownload/subjects/sub-001/experiments/sub-001_ses-01",
                  query={"xsiType": "xnat:mrSessionData"})
        base = "/data/projects/xnatDownload/subjects/sub-001/experiments/sub-001_ses-01/scans"
        admin.put(f"{base}/3", query={"xsiType": "xnat:mrScanData", "type": "T1 SPIN ECHO"})
        for path in dicom:
            admin.upload_file(f"{base}/3/resources/DICOM/files/{path.name}", path)
    return xnat_server.url


def test_pyxnat_first_steps_walk_in_our_api(xnat_download, tmp_path, reference) -> None:
    with xnat.connect(xnat_download, user="admin", password="admin") as session:
        projects = list(session.projects)
        assert [p.id for p in projects] == ["xnatDownload"]

        project = session.projects['xnatDownload']
        subjects = list(project.subjects)
        subject_labels = [s.label for s in subjects]
        assert subject_labels == ['sub-001']

        experiment = project.subjects['sub-001'].experiments['sub-001_ses-01']
        scan = experiment.scans['3']
        assert scan.type == 'T1 SPIN ECHO'

        resource = scan.resources['DICOM']
        f = resource.files[0]
        filename = f.name
        assert filename.endswith(".dcm")

        f.download(str(tmp_path / filename))
    original = reference / "dicom" / "Case001" / DICOM_SCAN / "DICOM" / filename
    assert (tmp_path / filename).read_bytes() == original.read_bytes()
    assert not [p for p in os.listdir(tmp_path) if p != filename]  # no temporary left behind
    assert Path(tmp_path / filename).stat().st_size > 1000
