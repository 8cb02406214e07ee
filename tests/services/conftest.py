"""Fixtures for the services tests: the embedded server and the real Case001 DICOM.

* ``app``, ``admin``, ``alice``, ``bob``: as in ``tests/testing`` (in-process server,
  users admin (administrator), alice, bob); project ``P1`` owned by alice exists.
* ``case001_zip``: the real Case001 series (55 files) zipped in a temporary folder
  (needs ``XNAT_REFERENCE``; skipped when it is unset).
* ``connected``: an ``xnat.connect()`` session on the same app over the in-process adapter.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.testing.conftest import USERS, Api
from xnat.testing.app import XNATApp

pytest.importorskip("pydicom")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[XNATApp]:
    application = XNATApp(data_dir=tmp_path / "data", users=USERS, site_id="XNAT")
    application.files.durable = False
    yield application
    application.close()


@pytest.fixture
def admin(app: XNATApp) -> Api:
    return Api(app, ("admin", "admin"))


@pytest.fixture
def alice(app: XNATApp, admin: Api) -> Api:
    assert admin.put("/data/projects/P1?name=First").status_code == 201
    app.set_project_access("P1", "alice", "owner")
    return Api(app, ("alice", "alice"))


@pytest.fixture
def bob(app: XNATApp) -> Api:
    return Api(app, ("bob", "bob"))


def zip_folder(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    """The files under ``folder`` as a zip (paths relative to it), plus ``extra`` members."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def case001(reference: Path) -> Path:
    folder = reference / "dicom" / "Case001"
    assert folder.is_dir(), f"{folder} is missing from the reference data"
    return folder


@pytest.fixture(scope="session")
def case001_zip(case001: Path) -> bytes:
    return zip_folder(case001)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An embedded XNAT over HTTP, shared by a module's tests (each uses its own project)."""
    from xnat.testing.runner import XNATServer

    with XNATServer(data_dir=tmp_path_factory.mktemp("xnat"), users=["admin:admin:admin", "alice:alice"]) as running:
        yield running


@pytest.fixture(scope="module")
def connection(server: Any) -> Iterator[Any]:
    """``xnat.connect`` as admin to ``server``."""
    import xnat

    with xnat.connect(server.url, user="admin", password="admin") as session:
        yield session


_COUNTER = iter(range(1, 1_000_000))


@pytest.fixture
def project(connection: Any) -> str:
    """A new, empty project of the shared server."""
    name = f"PRJ{next(_COUNTER):03d}"
    connection.put(f"/data/projects/{name}")
    return name


@pytest.fixture(scope="session")
def case001_file(case001_zip: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("case001") / "Case001.zip"
    path.write_bytes(case001_zip)
    return path
