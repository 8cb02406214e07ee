"""Fixtures shared by the whole test suite.

The real XNAT reference data (schemas, recorded responses, DICOM) is not copied into
the repository. ``.ci/run`` points ``XNAT_REFERENCE`` at ``../shared/xnat-reference``;
with the variable unset, that folder beside the clone is used when it is there (so the
README's test command runs every test). Tests that need it take the ``reference``
fixture: with no reference data they skip, with the variable set and the folder missing
they fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The README's layout: the reference data beside the clone. Set in the environment (not
# only in the fixture) so that every reader of the variable, and subprocesses, agree.
_BESIDE_THE_CLONE = Path(__file__).resolve().parents[2] / "shared" / "xnat-reference"
if not os.environ.get("XNAT_REFERENCE") and (_BESIDE_THE_CLONE / "schemas" / "xnat" / "xnat.xsd").is_file():
    os.environ["XNAT_REFERENCE"] = str(_BESIDE_THE_CLONE)


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
        pytest.skip("XNAT_REFERENCE is not set and ../shared/xnat-reference is not beside the clone")
    path = Path(location)
    if not (path / "schemas" / "xnat" / "xnat.xsd").is_file():
        pytest.fail(f"XNAT_REFERENCE={location} does not hold the XNAT reference data")
    return path


@pytest.fixture(scope="session")
def reference_schemas(reference: Path) -> Path:
    """The real XNAT schema set (17 files, as /xapi/schemas would list them)."""
    return reference / "schemas"
