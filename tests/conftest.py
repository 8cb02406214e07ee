"""Fixtures shared by the whole test suite.

The real XNAT reference data (schemas, recorded responses, DICOM) is not copied into
the repository. ``.ci/run`` points ``XNAT_REFERENCE`` at ``../shared/xnat-reference``;
tests that need it take the ``reference`` fixture: with the variable unset they skip,
with it set and the folder missing they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_schema_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep schema models written by connect() out of the user's real cache folder."""
    if "XNAT_CACHE_DIR" not in os.environ:
        os.environ["XNAT_CACHE_DIR"] = str(tmp_path_factory.mktemp("xnat-cache"))


@pytest.fixture(scope="session")
def reference() -> Path:
    """The folder of real XNAT schemas, recorded responses and DICOM."""
    location = os.environ.get("XNAT_REFERENCE")
    if not location:
        pytest.skip("XNAT_REFERENCE is not set (.ci/run sets it to ../shared/xnat-reference)")
    path = Path(location)
    if not (path / "schemas" / "xnat" / "xnat.xsd").is_file():
        pytest.fail(f"XNAT_REFERENCE={location} does not hold the XNAT reference data")
    return path


@pytest.fixture(scope="session")
def reference_schemas(reference: Path) -> Path:
    """The real XNAT schema set (17 files, as /xapi/schemas would list them)."""
    return reference / "schemas"
