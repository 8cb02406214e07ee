"""The ``xnat.testing`` package itself: its public names, its cost, its map, ``schemas=``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests

import xnat.testing
from xnat.testing.datatypes import DEFAULT_SCHEMAS_DIR

PACKAGE_DIR = Path(xnat.testing.__file__).parent


def _run(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (so imports start from nothing)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=60, check=False)


# -- public names ------------------------------------------------------------------------


def test_public_names_import_from_the_package():
    from xnat.testing import WSGIAdapter, XNATApp, XNATServer, mount
    from xnat.testing.adapter import WSGIAdapter as adapter_class
    from xnat.testing.adapter import mount as adapter_mount
    from xnat.testing.app import XNATApp as app_class
    from xnat.testing.runner import XNATServer as runner_class

    assert (XNATServer, XNATApp, WSGIAdapter, mount) == (runner_class, app_class, adapter_class, adapter_mount)
    assert sorted(xnat.testing.__all__) == ["WSGIAdapter", "XNATApp", "XNATServer", "mount"]
    assert set(xnat.testing.__all__) <= set(dir(xnat.testing))


def test_submodules_still_import_by_name():
    from xnat.testing import filestore

    assert filestore.__name__ == "xnat.testing.filestore"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = xnat.testing.nothing_here  # type: ignore[attr-defined]


def test_the_documented_in_process_example_works():
    from xnat.testing import XNATApp, mount

    app = XNATApp(users=("admin:admin:admin",))
    try:
        with requests.Session() as http:
            mount(http, app, "http://xnat.test")
            assert http.get("http://xnat.test/data/projects", auth=("admin", "admin")).status_code == 200
    finally:
        app.close()


def test_importing_is_cheap_and_xnat_does_not_import_it():
    result = _run("""
        import sys
        import xnat
        assert not [m for m in sys.modules if m.startswith("xnat.testing")], "import xnat imported xnat.testing"
        import xnat.testing
        loaded = sorted(m for m in sys.modules if m.startswith(("xnat.testing.", "werkzeug")))
        assert not loaded, loaded
    """)
    assert result.returncode == 0, result.stderr


def test_without_werkzeug_the_error_names_the_extra():
    result = _run("""
        import sys
        sys.modules["werkzeug"] = None  # as if the server extra were not installed
        import xnat.testing
        from xnat.testing import mount  # the adapter needs requests only
        try:
            from xnat.testing import XNATServer
        except ImportError as error:
            print(error)
        else:
            raise AssertionError("XNATServer imported without werkzeug")
    """)
    assert result.returncode == 0, result.stderr
    assert "xnat.testing.XNATServer needs the 'server' extra" in result.stdout
    assert 'pip install "xnat[server]"' in result.stdout


# -- the package map in the docstring -----------------------------------------------------


def _documented_modules() -> list[str]:
    doc = xnat.testing.__doc__ or ""
    return re.findall(r"^\* ``([\w/]+)``", doc, flags=re.MULTILINE)


def test_docstring_lists_every_module_and_only_real_ones():
    documented = _documented_modules()
    assert len(documented) == len(set(documented)), "a module is listed twice"
    for name in documented:
        if name.endswith("/"):
            assert (PACKAGE_DIR / name).is_dir(), f"{name} is listed in xnat/testing/__init__.py but is no folder"
        else:
            assert (PACKAGE_DIR / f"{name}.py").is_file(), f"{name} is listed in xnat/testing/__init__.py but is no module"
    on_disk = {path.stem for path in PACKAGE_DIR.glob("*.py") if path.name != "__init__.py"}
    on_disk |= {path.parent.name + "/" for path in PACKAGE_DIR.glob("*/__init__.py")}
    missing = sorted(on_disk - set(documented))
    assert not missing, f"modules missing from the package map in xnat/testing/__init__.py: {missing}"


# -- XNATServer(schemas=...), as ``xnat serve --schemas`` spells it -------------------------


def _served_schemas(server: xnat.testing.XNATServer) -> list[str]:
    response = requests.get(f"{server.url}/xapi/schemas", auth=("admin", "admin"), timeout=10)
    assert response.status_code == 200, response.text
    return sorted(response.json())


@pytest.fixture
def schema_copy(tmp_path: Path) -> Path:
    """The built-in schema set, copied elsewhere so that serving it proves the folder was used."""
    folder = tmp_path / "my-schemas"
    shutil.copytree(DEFAULT_SCHEMAS_DIR, folder)
    return folder


@pytest.mark.parametrize("keyword", ["schemas", "schemas_dir"])
def test_server_serves_the_schema_folder_it_is_given(tmp_path, schema_copy, keyword):
    from xnat.testing import XNATServer

    options = {keyword: schema_copy}
    with XNATServer(data_dir=tmp_path / "data", users=["admin:admin:admin"], **options) as server:
        assert server.app is not None
        assert server.app.datatypes.schemas_dir == schema_copy
        assert _served_schemas(server) == ["birn/birnprov", "catalog", "xdat", "xnat"]


def test_server_schemas_serves_the_real_set(reference_schemas):
    from xnat.testing import XNATServer

    with XNATServer(schemas=str(reference_schemas), users=["admin:admin:admin"]) as server:
        served = _served_schemas(server)
    assert len(served) == 17
    assert {"xnat", "xdat", "catalog", "project", "security"} <= set(served)


def test_server_refuses_both_names_for_the_schema_folder(schema_copy):
    from xnat.testing import XNATServer

    with pytest.raises(TypeError, match="schemas= or schemas_dir="):
        XNATServer(schemas=schema_copy, schemas_dir=schema_copy)


def test_server_names_its_options_when_given_an_unknown_one():
    from xnat.testing import XNATServer

    with pytest.raises(TypeError, match=r"unexpected option\(s\) 'schema';.*\bschemas\b"):
        XNATServer(schema="/somewhere")


def test_server_with_an_empty_schema_folder_says_so(tmp_path):
    from xnat.testing import XNATServer

    empty = tmp_path / "empty"
    empty.mkdir()
    server = XNATServer(data_dir=tmp_path / "data", schemas=empty)
    with pytest.raises(ValueError, match="no schemas"):
        server.start()
    server.close()
