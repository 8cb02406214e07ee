"""The fixtures xnatpy 0.8.1's own unit tests expect (their sdist ships the tests but not the
conftest that made ``xnatpy_mock`` and ``xnatpy_connection``), served through our public API.

Loaded as a pytest plugin (``-p xnatpy_fixtures``) by :mod:`tests.xnatpy_suite.test_xnatpy_suite`
in a pytest run of its own. ``XNATPY_SUITE_OVERLAY`` names a folder holding xnatpy's ``tests``
package; it is added to our package's path so that their ``from xnat.tests.mock import ...``
finds it. ``xnatpy_connection`` is our :func:`xnat.connect`, with requests-mock answering the
login and the schema requests from xnatpy's own recorded schema files (``xnat.xml``,
``xdat.xml`` in their tests folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import xnat

OVERLAY = Path(os.environ["XNATPY_SUITE_OVERLAY"])
xnat.__path__.append(str(OVERLAY / "xnat"))  # xnat.tests -> xnatpy's tests, beside our modules

BASE = "https://xnat.example.com"


@pytest.fixture
def xnatpy_mock() -> Iterator[Any]:
    """xnatpy's requests-mock Mocker (paths relative to ``https://xnat.example.com``)."""
    from xnat.tests.mock import XnatpyRequestsMocker  # type: ignore[import-not-found]

    with XnatpyRequestsMocker() as mocker:
        yield mocker


def _mock_server(mocker: Any) -> None:
    tests = OVERLAY / "xnat" / "tests"
    mocker.get("/data/JSESSION", text="0123456789ABCDEF0123456789ABCDEF",
               cookies={"JSESSIONID": "0123456789ABCDEF0123456789ABCDEF"})
    mocker.get("/data/auth", text="User 'testuser' is logged in")
    mocker.get("/xapi/siteConfig/buildInfo", json={"version": "1.8.3", "buildNumber": "1"})
    mocker.get("/data/version", text="1.8.3")
    mocker.get("/xapi/schemas", json=["xnat", "xdat"])
    mocker.get("/xapi/schemas/xnat", content=(tests / "xnat.xml").read_bytes())
    mocker.get("/xapi/schemas/xdat", content=(tests / "xdat.xml").read_bytes())
    mocker.delete("/data/JSESSION", text="")


@pytest.fixture
def xnatpy_connection(xnatpy_mock: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Our session, logged in to the mocked server as xnatpy's tests expect."""
    os.environ.setdefault("XNAT_CACHE_DIR", str(tmp_path_factory.mktemp("schema-cache")))
    _mock_server(xnatpy_mock)
    session = xnat.connect(BASE, user="testuser", password="testpassword", keepalive=False)
    try:
        yield session
    finally:
        session.disconnect()


@pytest.fixture
def test_resource_dir() -> Path:
    """xnatpy's test resources (``ANONYMIZ.zip``, ``Case001``), shipped in its sdist."""
    return OVERLAY / "xnat" / "tests" / "resources"
