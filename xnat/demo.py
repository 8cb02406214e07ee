"""The demo walk behind ``xnat demo``: the library's main features, step by step.

:func:`run_demo` starts the embedded XNAT server on a free port (or uses the server
given), fills it with a small, real-looking study, then walks through connecting,
listing, a typed property, creating a subject and an MR session, uploading, downloading
and a search, printing each step and the code that does it. Everything goes through the
public API, so the steps double as a tour of it::

    from xnat.demo import run_demo
    run_demo()                        # prints the tour on stdout, returns when done

The demo writes what it prints to the ``out`` stream it is given (stdout by default);
nothing is logged or printed otherwise.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import struct
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import xnat

__all__ = ["DEMO_PASSWORD", "DEMO_USER", "SAMPLE_STUDY", "StudyPlan", "nifti_bytes", "run_demo", "seed_study"]

DEMO_USER = "admin"
DEMO_PASSWORD = "admin"


@dataclass(frozen=True)
class ScanPlan:
    """One scan of a sample MR session."""

    id: str
    type: str
    series_description: str
    frames: int


@dataclass(frozen=True)
class StudyPlan:
    """The sample study: a project with subjects, each with one MR session."""

    project: str
    name: str
    description: str
    subjects: tuple[tuple[str, str, int], ...]  # (label, gender, age at scan)
    scans: tuple[ScanPlan, ...] = field(default_factory=tuple)
    scanner: str = "Siemens Prisma_fit"
    field_strength: str = "3.0"


SAMPLE_STUDY = StudyPlan(
    project="DEMO",
    name="Demo: healthy ageing MRI",
    description="Sample data made by 'xnat demo': three volunteers, one 3T MR session each.",
    subjects=(("DEMO_001", "female", 34), ("DEMO_002", "male", 58), ("DEMO_003", "female", 71)),
    scans=(
        ScanPlan("1", "localizer", "AAHead_Scout_32ch-head-coil", 3),
        ScanPlan("2", "T1w", "t1_mprage_sag_p2_iso_1.0", 176),
        ScanPlan("3", "rsfMRI", "ep2d_bold_rest_2.5mm", 300),
    ),
)


def nifti_bytes(shape: tuple[int, int, int] = (8, 8, 4), description: str = "xnat demo") -> bytes:
    """A small but valid gzipped NIfTI-1 image (int16 gradient), as a scanner pipeline makes."""
    nx, ny, nz = shape
    header = bytearray(348)
    struct.pack_into("<i", header, 0, 348)                      # sizeof_hdr
    struct.pack_into("<8h", header, 40, 3, nx, ny, nz, 1, 1, 1, 1)  # dim
    struct.pack_into("<hh", header, 70, 4, 16)                  # datatype INT16, bitpix
    struct.pack_into("<8f", header, 76, 1.0, 1.0, 1.0, 1.0, 0, 0, 0, 0)  # pixdim (mm)
    struct.pack_into("<f", header, 108, 352.0)                  # vox_offset
    struct.pack_into("<f", header, 112, 1.0)                    # scl_slope
    header[148:148 + len(description[:79])] = description[:79].encode("ascii", "replace")
    struct.pack_into("<h", header, 254, 1)                      # sform_code: scanner
    struct.pack_into("<4f", header, 280, 1.0, 0, 0, 0)          # srow_x
    struct.pack_into("<4f", header, 296, 0, 1.0, 0, 0)          # srow_y
    struct.pack_into("<4f", header, 312, 0, 0, 1.0, 0)          # srow_z
    header[344:348] = b"n+1\0"                                  # magic: single file
    voxels = struct.pack(f"<{nx * ny * nz}h", *((x + y + z) * 10 for z in range(nz) for y in range(ny)
                                                 for x in range(nx)))
    return gzip.compress(bytes(header) + b"\0" * 4 + voxels, mtime=0)


def seed_study(session: Any, plan: StudyPlan = SAMPLE_STUDY, with_files: bool = True) -> Any:
    """Create ``plan`` on the server through the object API; returns the project.

    With ``with_files``, each T1w scan gets a NIFTI resource (a small volume) and each
    localizer a DICOM resource (a synthetic slice per frame, :mod:`xnat.testing.phantom`).

    Refuses (``XNATObjectAlreadyExistsError``) when the project exists, so an existing
    study is never mixed with the demo's.
    """
    classes = session.classes
    project = classes.ProjectData(parent=session, id=plan.project, name=plan.name,
                                  description=plan.description)
    for number, (label, gender, age) in enumerate(plan.subjects, start=1):
        subject = classes.SubjectData(parent=project, label=label)
        subject.demographics.gender = gender
        subject.demographics.age = age
        experiment = classes.MrSessionData(parent=subject, label=f"{label}_MR1",
                                           date=datetime.date(2021, 3, number),
                                           scanner=plan.scanner, field_strength=plan.field_strength)
        for scan_plan in plan.scans:
            scan = classes.MrScanData(parent=experiment, id=scan_plan.id, type=scan_plan.type,
                                      series_description=scan_plan.series_description, frames=scan_plan.frames)
            if with_files and scan_plan.type == "T1w":
                resource = classes.ResourceCatalog(parent=scan, label="NIFTI", format="NIFTI")
                resource.upload_data(nifti_bytes(description=f"{label} {scan_plan.type}"), "T1w.nii.gz")
            if with_files and scan_plan.type == "localizer":
                _upload_phantom(classes, scan, label, experiment.label, scan_plan)
    return project


def _upload_phantom(classes: Any, scan: Any, patient: str, study: str, plan: ScanPlan) -> None:
    """The scan's DICOM: one synthetic slice per frame (something to download and preview)."""
    from xnat.testing.phantom import phantom_dicom

    resource = classes.ResourceCatalog(parent=scan, label="DICOM", format="DICOM")
    for number in range(1, plan.frames + 1):
        data = phantom_dicom(patient, study, int(plan.id), plan.series_description, number, plan.frames, size=128)
        resource.upload_data(data, f"{study}.MR.{plan.id}.{number}.dcm", file_format="DICOM", file_content="RAW")


class _Tour:
    """Prints numbered steps, the code they run and what came back."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out, self.total, self.number = out, total, 0

    def step(self, title: str, *code: str) -> None:
        self.number += 1
        self.say(f"\n[{self.number}/{self.total}] {title}")
        for line in code:
            self.say(f"    >>> {line}")

    def show(self, text: str) -> None:
        for line in str(text).splitlines() or [""]:
            self.say(f"    {line}")

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


STEPS = 8


def run_demo(server_url: str | None = None, *, user: str = DEMO_USER, password: str = DEMO_PASSWORD,
             project: str = SAMPLE_STUDY.project, keep: bool = False, out: TextIO | None = None,
             on_ready: Callable[[str], None] | None = None) -> str:
    """Run the tour; returns the URL of the server it used.

    :param server_url: use this running server (e.g. one from ``xnat serve``) instead of
        starting an embedded one; the demo data is created in it and left there
    :param user: the user to log in as (an administrator, to create the project)
    :param password: that user's password
    :param project: the ID of the sample project to create (it must not exist yet)
    :param keep: leave the embedded server running when the tour ends, until
        interrupted (Ctrl-C); ``on_ready`` is called with its URL first
    :param out: where to print the tour (default: ``sys.stdout``)
    """
    tour = _Tour(out or sys.stdout, STEPS)
    # Project names are unique on a server too: a second tour gets its own.
    name = SAMPLE_STUDY.name if project == SAMPLE_STUDY.project else f"{SAMPLE_STUDY.name} ({project})"
    plan = StudyPlan(project, name, SAMPLE_STUDY.description,
                     tuple((label.replace("DEMO", project, 1), gender, age)
                           for label, gender, age in SAMPLE_STUDY.subjects), SAMPLE_STUDY.scans)
    with ExitStack() as stack:
        server = None
        if server_url is None:
            from xnat.testing.runner import XNATServer

            server = stack.enter_context(XNATServer(port=0, users=[f"{user}:{password}:admin"]))
            server_url = server.url
            tour.say(f"Started an embedded XNAT server at {server_url} (user {user!r}, password {password!r})")
        else:
            tour.say(f"Using the XNAT server at {server_url}")
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="xnat-demo-")))

        tour.step("Connect: log in and read the server's data types",
                  f"session = xnat.connect({server_url!r}, user={user!r}, password=...)")
        session = stack.enter_context(xnat.connect(server_url, user=user, password=password, keepalive=False))
        tour.show(f"{session!r}: XNAT {session.xnat_version}, "
                  f"{len([n for n in dir(session.classes) if n.endswith('Data')])} data types")
        _seed(tour, session, plan)
        _walk(tour, session, plan, workdir)
        if keep and server is not None:
            tour.say(f"\nThe server keeps running at {server_url} (user {user!r}); press Ctrl-C to stop it.")
            if on_ready is not None:
                on_ready(server_url)
            _wait_for_interrupt()
        tour.say("\nDone." + (" Stopping the embedded server." if server is not None else ""))
    return server_url


def _seed(tour: _Tour, session: Any, plan: StudyPlan) -> None:
    tour.step(f"Seed a sample study: project {plan.project}, {len(plan.subjects)} subjects, "
              f"{len(plan.scans)} scans each",
              f"project = session.classes.ProjectData(parent=session, id={plan.project!r}, name=...)",
              "subject = session.classes.SubjectData(parent=project, label=...)   # and so on")
    seed_study(session, plan)
    tour.show(f"created {plan.project} with subjects {', '.join(s[0] for s in plan.subjects)}")


def _walk(tour: _Tour, session: Any, plan: StudyPlan, workdir: Path) -> None:
    tour.step("List: projects, then the subjects of one",
              "session.projects", f"project = session.projects[{plan.project!r}]",
              "[subject.label for subject in project.subjects.values()]")
    session.clearcache()
    tour.show(", ".join(f"{p.id} ({p.name})" for p in session.projects.values()))
    project = session.projects[plan.project]
    tour.show(", ".join(subject.label for subject in project.subjects.values()))

    first = plan.subjects[0][0]
    tour.step("A typed property: dates come back as datetime.date, not text",
              f"experiment = project.subjects[{first!r}].experiments[{first + '_MR1'!r}]",
              "experiment.date, experiment.scans['2'].series_description")
    experiment = project.subjects[first].experiments[f"{first}_MR1"]
    tour.show(f"{experiment.date!r} ({type(experiment.date).__name__}); "
              f"scan 2 is {experiment.scans['2'].series_description!r}")

    label = f"{plan.project}_004"
    tour.step("Create a subject, an MR session and a scan",
              f"subject = session.classes.SubjectData(parent=project, label={label!r})",
              f"mr = session.classes.MrSessionData(parent=subject, label={label + '_MR1'!r}, date=...)",
              "scan = session.classes.MrScanData(parent=mr, id='1', type='T1w')")
    subject = session.classes.SubjectData(parent=project, label=label)
    mr = session.classes.MrSessionData(parent=subject, label=f"{label}_MR1", date=datetime.date.today())
    scan = session.classes.MrScanData(parent=mr, id="1", type="T1w", series_description="t1_mprage_sag_p2_iso_1.0")
    tour.show(f"{subject!r}\n{mr!r}\n{scan!r}")

    local = workdir / "T1w.nii.gz"
    local.write_bytes(nifti_bytes(description=f"{label} T1w"))
    tour.step("Upload a file into a new NIFTI resource of the scan",
              "resource = session.classes.ResourceCatalog(parent=scan, label='NIFTI', format='NIFTI')",
              f"resource.upload({local.name!r}, 'T1w.nii.gz')")
    resource = session.classes.ResourceCatalog(parent=scan, label="NIFTI", format="NIFTI")
    resource.upload(local, "T1w.nii.gz")
    tour.show(f"uploaded {local.stat().st_size} bytes; the resource now lists {list(resource.files.keys())}")

    target = workdir / "download"
    tour.step("Download the whole session to a folder",
              f"mr.download_dir({str(target)!r})")
    mr.download_dir(target, verbose=False)
    files = sorted(p for p in target.rglob("*") if p.is_file())
    for path in files:
        tour.show(f"{path.relative_to(target)}  ({path.stat().st_size} bytes)")
    same = any(hashlib.md5(p.read_bytes()).digest() == hashlib.md5(local.read_bytes()).digest() for p in files)
    tour.show("the downloaded file is identical to the uploaded one" if same else "the download differs!")
    if not same:
        raise xnat.XNATError("the downloaded file differs from the uploaded one")

    tour.step("Search: MR sessions of the project scanned before 2022",
              "MR = session.classes.MrSessionData",
              "query = MR.query()      # also adds the server's search fields: MR.PROJECT, MR.DATE, ...",
              f"query.filter(MR.PROJECT == {plan.project!r}).filter(MR.DATE < date(2022, 1, 1)).all()")
    mr_class = session.classes.MrSessionData
    if not hasattr(mr_class, "query"):  # older connect() did not install search on the classes
        from xnat.services.search_classes import install_search

        install_search(session)
    query = mr_class.query()
    found = query.filter(plan.project == mr_class.PROJECT).filter(datetime.date(2022, 1, 1) > mr_class.DATE).all()
    tour.show(", ".join(sorted(e.label for e in found)))


def _wait_for_interrupt() -> None:
    """Block until SIGINT (Ctrl-C) or SIGTERM, whatever handlers the process started with.

    A shell starts background jobs with SIGINT ignored, so the handlers are set here
    (and put back afterwards) rather than relying on KeyboardInterrupt.
    """
    import signal
    import threading

    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
