"""Schema discovery, fetching and the on-disk model cache, against a fake session."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

import pytest

from xnat.exceptions import XNATSchemaError
from xnat.schema import loader, xsd
from xnat.schema.model import SchemaModel, XNATSchemaWarning

from .conftest import FakeSession

pytestmark = pytest.mark.reference


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XNAT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "schema-models"


def test_cold_load_fetches_each_schema_once(real_sources, private_cache: Path) -> None:
    session = FakeSession(real_sources)
    model = loader.load_model(session)
    assert len(model.types) == 517
    assert session.requests[0] == "/xapi/schemas"
    assert sorted(session.requests[1:]) == sorted(f"/xapi/schemas/{name}" for name, _ in real_sources)
    assert len(session.requests) <= 4 + len(real_sources)
    files = list(private_cache.glob("*.json"))
    assert len(files) == 1 and files[0].stem == loader.cache_key(loader.fetch_schemas(FakeSession(real_sources)))
    assert oct(private_cache.stat().st_mode & 0o777) == oct(0o700)


def test_warm_load_skips_parsing(real_sources, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = loader.load_model(FakeSession(real_sources))

    def parser_must_not_run(*args, **kwargs):
        raise AssertionError("the schemas were parsed on a warm load")

    monkeypatch.setattr(xsd, "read_schemas", parser_must_not_run)
    session = FakeSession(real_sources)
    warm = loader.load_model(session)
    assert warm == cold
    assert len(session.requests) == 1 + len(real_sources)


def test_changed_schema_is_a_new_cache_entry(real_sources, private_cache: Path) -> None:
    loader.load_model(FakeSession(real_sources))
    changed = [(name, data + b"\n") if name == "catalog" else (name, data) for name, data in real_sources]
    loader.load_model(FakeSession(changed))
    assert len(list(private_cache.glob("*.json"))) == 2


def test_cache_can_be_bypassed(real_sources, private_cache: Path) -> None:
    loader.load_model(FakeSession(real_sources), cache=False)
    assert not private_cache.exists()


def test_core_only(real_sources) -> None:
    session = FakeSession(real_sources)
    model = loader.load_model(session, extension_types=False)
    assert sorted(session.requests) == ["/xapi/schemas/xdat", "/xapi/schemas/xnat"]
    assert {info.name for info in model.schemas} == {"xnat", "xdat"}
    assert "xnat:mrSessionData" in model.types and "cat:catalog" not in model.types


def test_xnat_16_reads_the_legacy_path(real_sources) -> None:
    session = FakeSession(real_sources, version="1.6.5", legacy=True)
    model = loader.load_model(session)
    assert session.requests == ["/schemas/xnat/xnat.xsd"]
    assert "xnat:mrSessionData" in model.types


def test_server_without_xapi_schemas_falls_back(real_sources) -> None:
    session = FakeSession(real_sources, version="1.7.0", legacy=True)
    model = loader.load_model(session)
    assert session.requests == ["/xapi/schemas", "/schemas/xnat/xnat.xsd"]
    assert "xnat:projectData" in model.types


def test_failing_extension_schema_is_skipped_with_a_warning(real_sources) -> None:
    session = FakeSession(real_sources, fail={"catalog"})
    with pytest.warns(XNATSchemaWarning, match="catalog"):
        model = loader.load_model(session, cache=False)
    assert "cat:catalog" not in model.types and "xnat:mrSessionData" in model.types


def test_failing_core_schema_is_an_error(real_sources) -> None:
    with pytest.raises(XNATSchemaError, match="schema 'xnat'.*could not fetch /xapi/schemas/xnat"):
        loader.load_model(FakeSession(real_sources, fail={"xnat"}))


def test_unreadable_extension_warns_again_on_a_warm_load(real_sources) -> None:
    broken = [(name, b"<not-xml" if name == "birn/birnprov" else data) for name, data in real_sources]
    with pytest.warns(XNATSchemaWarning, match="birn/birnprov.*not well-formed"):
        first = loader.load_model(FakeSession(broken))
    assert "prov:process" not in first.types
    with pytest.warns(XNATSchemaWarning, match="birn/birnprov"):
        second = loader.load_model(FakeSession(broken))
    assert second == first


def test_unreadable_core_schema_names_the_schema(real_sources) -> None:
    broken = [(name, b"<xs:schema" if name == "xdat" else data) for name, data in real_sources]
    with pytest.raises(XNATSchemaError, match="schema 'xdat': not well-formed"):
        loader.load_model(FakeSession(broken))


def test_hostile_listing_entries_are_not_requested(real_sources) -> None:
    listing = ["xnat", "xdat", "../../../etc/passwd", 42, "a" * 500, "x/../y", "catalog", "catalog"]
    session = FakeSession(real_sources, listing=listing)
    with pytest.warns(XNATSchemaWarning, match="not a schema name"):
        model = loader.load_model(session, cache=False)
    assert sorted(session.requests[1:]) == ["/xapi/schemas/catalog", "/xapi/schemas/xdat", "/xapi/schemas/xnat"]
    assert "cat:catalog" in model.types


def test_listing_that_is_not_a_list(real_sources) -> None:
    with pytest.raises(XNATSchemaError, match="not a list"):
        loader.load_model(FakeSession(real_sources, listing={"xnat": 1}))


def test_damaged_cache_file_is_ignored_and_rewritten(real_sources, private_cache: Path, caplog) -> None:
    good = loader.load_model(FakeSession(real_sources))
    (path,) = private_cache.glob("*.json")
    for damage in (b"{", b'{"format": 1, "types": {"x": {"key": 5}}}', b'{"format": 1, "evil": 1, "types": {}}',
                   json.dumps({"format": 1, "types": {"a": {"key": "a", "schema": "s", "namespace": "",
                                                             "prefix": "", "path": [], "exec": "x"}}}).encode(),
                   b"\xff\xfe"):
        path.write_bytes(damage)
        with caplog.at_level(logging.WARNING, logger="xnat.schema.loader"):
            assert loader.load_model(FakeSession(real_sources)) == good
        assert "schema cache" in caplog.text
        caplog.clear()
        assert SchemaModel.from_json(path.read_text()) == good


def test_cache_location_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("XNAT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert loader.cache_dir() == tmp_path / "xdg" / "xnat" / "schema-models"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored, as the spec says
    assert loader.cache_dir() == Path.home() / ".cache" / "xnat" / "schema-models"
    monkeypatch.setenv("XNAT_CACHE_DIR", str(tmp_path / "mine"))
    assert loader.cache_dir() == tmp_path / "mine" / "schema-models"


def test_clear_cache(real_sources, private_cache: Path) -> None:
    loader.load_model(FakeSession(real_sources))
    assert loader.clear_cache() == 1
    assert list(private_cache.glob("*.json")) == []
    assert loader.clear_cache() == 0


def test_old_entries_are_pruned(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_CACHE_FILES", 3)
    for index in range(6):
        loader._write_cache(private_cache / f"{index:02d}.json", "{}")
        os.utime(private_cache / f"{index:02d}.json", (1000 + index, 1000 + index))
    loader._write_cache(private_cache / "new.json", "{}")
    assert sorted(p.name for p in private_cache.glob("*.json")) == ["04.json", "05.json", "new.json"]


def test_concurrent_loads_share_the_cache_safely(real_sources, private_cache: Path) -> None:
    results: list[SchemaModel] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(loader.load_model(FakeSession(real_sources)))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 4
    assert all(model == results[0] for model in results)
    assert [p.name for p in private_cache.iterdir() if p.name.startswith(".tmp-")] == []
    assert len(list(private_cache.glob("*.json"))) == 1


def test_unwritable_cache_still_loads(real_sources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("XNAT_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger="xnat.schema.loader"):
        model = loader.load_model(FakeSession(real_sources))
    assert len(model.types) == 517
    assert "could not write the schema cache" in caplog.text


# --- the fast warm path: a known server answering with a known listing --------------------

SERVER = "https://xnat.example.org"


def test_warm_load_of_a_known_server_fetches_nothing(real_sources, monkeypatch) -> None:
    # The session's build information (one request at connect, kept) is the whole check.
    cold_session = FakeSession(real_sources, server=SERVER)
    cold = loader.load_model(cold_session)
    assert len(cold_session.requests) == 1 + len(real_sources)
    real_reader = xsd.read_schemas
    monkeypatch.setattr(xsd, "read_schemas", lambda *a, **k: pytest.fail("parsed on a warm load"))
    session = FakeSession(real_sources, server=SERVER)
    assert loader.load_model(session) == cold
    assert session.requests == []
    core = FakeSession(real_sources, server=SERVER)
    monkeypatch.setattr(xsd, "read_schemas", real_reader)
    loader.load_model(core, extension_types=False)
    loader.load_model(core, extension_types=False)
    # Two loads, one fetch of each core schema: the second load made no request at all.
    assert sorted(core.requests) == ["/xapi/schemas/xdat", "/xapi/schemas/xnat"]


@pytest.mark.parametrize("change", ["version", "build", "server", "max_age", "expired", "damaged"])
def test_fast_path_falls_back_to_fetching(real_sources, monkeypatch, private_cache: Path, change: str) -> None:
    loader.load_model(FakeSession(real_sources, server=SERVER))
    kwargs = {"server": SERVER}
    sources = real_sources
    if change == "version":
        kwargs["version"] = "1.9.0"
    elif change == "build":  # a rebuild under the same version string
        kwargs["build"] = {"commit": "def456"}
    elif change == "server":
        kwargs["server"] = "https://other.example.org"
    elif change == "max_age":
        monkeypatch.setenv("XNAT_SCHEMA_CACHE_MAX_AGE", "0")
    elif change == "expired":
        monkeypatch.setattr(loader.time, "time", lambda: 4_000_000_000.0)
    else:
        (index,) = (private_cache / "index").glob("*.json")
        index.write_text('{"model": "../../etc/passwd", "checked": 1e20}')
    session = FakeSession(sources, **kwargs)
    model = loader.load_model(session)
    assert len(session.requests) == 1 + len(sources)
    assert "prov:process" in model.types


def test_a_plugin_added_without_a_new_build_is_seen_when_the_entry_ages_out(real_sources, monkeypatch) -> None:
    loader.load_model(FakeSession(real_sources, server=SERVER))
    fewer = [item for item in real_sources if item[0] != "birn/birnprov"]
    trusted = FakeSession(fewer, server=SERVER)
    assert "prov:process" in loader.load_model(trusted).types and trusted.requests == []
    monkeypatch.setattr(loader.time, "time", lambda: 4_000_000_000.0)
    checked = FakeSession(fewer, server=SERVER)
    assert "prov:process" not in loader.load_model(checked).types
    assert len(checked.requests) == 1 + len(fewer)


def test_bad_max_age_setting_uses_the_default(real_sources, monkeypatch, caplog) -> None:
    monkeypatch.setenv("XNAT_SCHEMA_CACHE_MAX_AGE", "an hour")
    loader.load_model(FakeSession(real_sources, server=SERVER))
    session = FakeSession(real_sources, server=SERVER)
    loader.load_model(session)
    assert session.requests == []
    assert "XNAT_SCHEMA_CACHE_MAX_AGE" in caplog.text


def test_clear_cache_also_forgets_servers(real_sources, private_cache: Path) -> None:
    loader.load_model(FakeSession(real_sources, server=SERVER))
    assert loader.clear_cache() == 2
    session = FakeSession(real_sources, server=SERVER)
    loader.load_model(session)
    assert len(session.requests) == 1 + len(real_sources)
