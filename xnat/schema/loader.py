"""Find, fetch and read a server's data-type schemas, with an on-disk model cache.

Discovery (see REST-NOTES §12):

* XNAT 1.7+: ``GET /xapi/schemas`` lists entries (``xnat``, ``xdat/display``, ``catalog``,
  plugin schemas, ...); each is fetched with ``GET /xapi/schemas/{entry}``, concurrently on
  a small thread pool, compression allowed. ``extension_types=False`` fetches only
  ``xnat`` and ``xdat`` and skips the listing.
* XNAT 1.6 (or a server without ``/xapi/schemas``): ``GET /schemas/xnat/xnat.xsd``.

So loading costs one request plus one per schema.

**The cache.** Reading the schemas (:func:`xnat.schema.xsd.read_schemas`) is the costly
step; its result, the :class:`~xnat.schema.model.SchemaModel`, is kept on disk as JSON:

* where: ``$XNAT_CACHE_DIR/schema-models/`` if ``XNAT_CACHE_DIR`` is set, otherwise
  ``$XDG_CACHE_HOME/xnat/schema-models/`` (default ``~/.cache/xnat/schema-models/``);
* key: a SHA-256 over the model format and every schema's name and bytes, so a changed
  schema (a server upgrade, a new plugin) is a new file and stale entries are never used;
* what: plain JSON data (no pickle), type-checked on load; a damaged file is ignored and
  rewritten, and at worst yields wrong field metadata, never code that runs;
* written atomically (temporary file + ``os.replace``), so several processes can share it;
  only the newest :data:`MAX_CACHE_FILES` files are kept;
* cleared with :func:`clear_cache` (or by deleting the folder); ``cache=False`` bypasses it.

**Warm loads.** With the model cached, a load still fetches every schema to compute the key
and only skips the parsing. To also skip the fetching, the loader remembers which model a
server answered with: an index entry keyed by the server URL, its build (the XNAT version
and the rest of ``/xapi/siteConfig/buildInfo``: build number, commit, date) and
``extension_types``. Within :data:`DEFAULT_MAX_AGE` seconds of the last full check
(``XNAT_SCHEMA_CACHE_MAX_AGE`` overrides it; ``0`` turns the fast path off) a warm load
costs one request, the build information, which the session keeps as its
``xnat_version``: a warm connect is the login and that one request. A server's schemas
change only when it is redeployed; an upgrade or rebuild changes its build and is noticed
at once. A plugin added or removed without a new build (or a schema edited in place) is
seen once the entry ages out, or after :func:`clear_cache`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..exceptions import XNATError, XNATResponseError, XNATSchemaError
from ..transport import response_json
from .model import MODEL_FORMAT, SchemaModel, XNATSchemaWarning

__all__ = [
    "DEFAULT_MAX_AGE",
    "MAX_CACHE_FILES",
    "cache_dir",
    "cache_key",
    "clear_cache",
    "fetch_schemas",
    "load_model",
]

logger = logging.getLogger(__name__)

#: How many cached models are kept (one per distinct schema set seen).
MAX_CACHE_FILES = 32
#: Seconds a server's index entry is trusted without fetching its schemas again.
DEFAULT_MAX_AGE = 3600.0
#: Most schemas a server may list; more is treated as a broken or hostile answer.
MAX_SCHEMAS = 500
_WORKERS = 4
_ENTRY = re.compile(r"^[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){0,3}$")
_CORE_ENTRIES = ("xnat", "xdat")
_LEGACY_PATH = "/schemas/xnat/xnat.xsd"


def load_model(session: Any, extension_types: bool = True, cache: bool = True) -> SchemaModel:
    """The schema model of the server behind ``session``.

    ``session`` needs ``get(path, ..., accepted_status=...)`` returning a
    ``requests.Response`` and an ``xnat_version`` string; its ``server`` URL (when it has
    one) enables the fast warm path. Raises :class:`~xnat.exceptions.XNATSchemaError` when
    a core schema cannot be fetched or read.
    """
    index = _index_path(session, extension_types) if cache else None
    if index is not None:
        model = _from_index(index)
        if model is not None:
            return model
    entries = _discover(session, extension_types)
    sources = _fetch_all(session, entries)
    key = cache_key(sources)
    path = cache_dir() / f"{key}.json"
    model = _read_cache(path) if cache else None
    if model is not None:
        logger.debug("schema model read from cache %s", path)
        _repeat_notes(model)
    else:
        from . import xsd  # the XSD reader (and lxml) loads only when the cache cannot answer

        model = xsd.read_schemas(sources, core=_CORE_ENTRIES)
        if cache:
            _write_cache(path, model.to_json())
    if index is not None:
        _write_cache(index, json.dumps({"model": key, "checked": time.time()}))
    return model


def fetch_schemas(session: Any, extension_types: bool = True) -> list[tuple[str, bytes]]:
    """``(entry, bytes)`` for every schema the server publishes (see the module docstring)."""
    return _fetch_all(session, _discover(session, extension_types))


def _discover(session: Any, extension_types: bool) -> list[str] | None:
    """The entries to fetch; None means the XNAT 1.6 layout (one legacy path)."""
    version = str(getattr(session, "xnat_version", "") or "")
    if version.startswith("1.6"):
        return None
    if not extension_types:
        return list(_CORE_ENTRIES)
    listed = _list_entries(session)
    if listed is None:
        logger.info("no /xapi/schemas on this server; reading %s (XNAT 1.6 layout)", _LEGACY_PATH)
        return None
    return [e for e in _CORE_ENTRIES if e not in listed] + listed


def _fetch_all(session: Any, entries: list[str] | None) -> list[tuple[str, bytes]]:
    if entries is None:
        return [("xnat", _fetch(session, _LEGACY_PATH, "xnat"))]
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(entries)), thread_name_prefix="xnat-schema") as pool:
        results = list(pool.map(lambda entry: _fetch_entry(session, entry), entries))
    return [(entry, data) for entry, data in zip(entries, results) if data is not None]


def _max_age() -> float:
    raw = os.environ.get("XNAT_SCHEMA_CACHE_MAX_AGE")
    if raw is None:
        return DEFAULT_MAX_AGE
    try:
        return max(float(raw), 0.0)
    except ValueError:
        logger.warning("XNAT_SCHEMA_CACHE_MAX_AGE=%r is not a number of seconds; using %s", raw, DEFAULT_MAX_AGE)
        return DEFAULT_MAX_AGE


def _index_path(session: Any, extension_types: bool) -> Path | None:
    """Where the fast-path entry of this server and build lives; None when the fast path is off."""
    server = getattr(session, "server", None)
    if not isinstance(server, str) or not server or _max_age() <= 0:
        return None
    identity = json.dumps([server, str(getattr(session, "xnat_version", "")), _build(session), extension_types])
    return cache_dir() / "index" / f"{hashlib.sha256(identity.encode()).hexdigest()}.json"


def _build(session: Any) -> Any:
    """The server's build information (already fetched with its version), when it has any."""
    try:
        info = getattr(session, "xnat_build_info", None)
    except XNATError:  # XNAT 1.6 has no buildInfo; its version alone names the build
        return None
    return info if isinstance(info, dict) else None


def _from_index(index: Path) -> SchemaModel | None:
    try:
        entry = json.loads(index.read_text(encoding="utf-8"))
        key, checked = entry["model"], float(entry["checked"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:  # a damaged or planted file
        logger.debug("ignoring schema index %s: %s", index, exc)
        return None
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{64}", key):
        return None
    if not 0 <= time.time() - checked < _max_age():
        return None
    model = _read_cache(cache_dir() / f"{key}.json")
    if model is not None:
        logger.debug("schema model %s reused for this server without fetching the schemas", key)
        _repeat_notes(model)
    return model


def _repeat_notes(model: SchemaModel) -> None:
    for note in model.notes:  # warnings of the first read are repeated on every load
        warnings.warn(note, XNATSchemaWarning, stacklevel=3)


def _list_entries(session: Any) -> list[str] | None:
    """The entries of ``/xapi/schemas``; None when the server has no such endpoint."""
    response = session.get("/xapi/schemas", accepted_status=[200, 404])
    if response.status_code == 404:
        return None
    try:
        listed = response_json(response)
    except XNATResponseError as error:  # not JSON, or nested too deeply to read
        raise XNATSchemaError(f"cannot discover the schemas: {error}") from None
    if not isinstance(listed, list):
        raise XNATSchemaError(f"GET /xapi/schemas returned {type(listed).__name__}, not a list of schemas")
    entries: list[str] = []
    for item in listed:
        if isinstance(item, str) and _ENTRY.match(item) and ".." not in item.split("/"):
            if item not in entries:
                entries.append(item)
        else:
            warnings.warn(f"/xapi/schemas lists {str(item)[:100]!r}, not a schema name; skipped",
                          XNATSchemaWarning, stacklevel=3)  # fmt: skip
    if len(entries) > MAX_SCHEMAS:
        warnings.warn(f"/xapi/schemas lists {len(entries)} schemas; only the first {MAX_SCHEMAS} are read",
                      XNATSchemaWarning, stacklevel=3)  # fmt: skip
        entries = entries[:MAX_SCHEMAS]
    return entries


def _fetch_entry(session: Any, entry: str) -> bytes | None:
    """One listed schema; an extension schema that fails is skipped with a warning."""
    try:
        return _fetch(session, f"/xapi/schemas/{entry}", entry)
    except XNATSchemaError as exc:
        if entry in _CORE_ENTRIES:
            raise
        warnings.warn(f"extension schema skipped: {exc}", XNATSchemaWarning, stacklevel=2)
        return None


def _fetch(session: Any, path: str, entry: str) -> bytes:
    try:
        response = session.get(path, accepted_status=[200])
    except XNATResponseError as exc:
        raise XNATSchemaError(f"schema {entry!r}: could not fetch {path}: {exc}") from None
    except XNATError as exc:  # connection problems, timeouts, authentication
        raise XNATSchemaError(f"schema {entry!r}: could not fetch {path}: {exc}") from exc
    return bytes(response.content)


def cache_key(sources: Sequence[tuple[str, bytes]]) -> str:
    """SHA-256 over the model format and each schema's name and bytes, in order."""
    digest = hashlib.sha256(f"xnat-schema-model/{MODEL_FORMAT}\n".encode())
    for name, data in sources:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The folder of cached models (see the module docstring for the rules)."""
    override = os.environ.get("XNAT_CACHE_DIR")
    if override:
        return Path(override).expanduser() / "schema-models"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "xnat" / "schema-models"


def clear_cache() -> int:
    """Delete every cached schema model and server index entry; returns how many files were removed."""
    folder = cache_dir()
    removed = 0
    for path in [*folder.glob("*.json"), *folder.glob("index/*.json")]:
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:  # another process removed it first
            pass
    return removed


def _read_cache(path: Path) -> SchemaModel | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("cannot read the schema cache %s (%s); reading the schemas instead", path, exc)
        return None
    try:
        return SchemaModel.from_json(text)
    except (ValueError, TypeError, RecursionError) as exc:
        logger.warning("ignoring a damaged schema cache file %s (%s); it will be rewritten", path, exc)
        return None


def _write_cache(path: Path, text: str, prune: bool = True) -> None:
    """Write atomically: a reader sees the old file, no file, or the whole new one."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
        tmp = None
        if prune:
            _prune(path.parent)
    except OSError as exc:
        logger.warning("could not write the schema cache %s: %s", path, exc)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(folder: Path) -> None:
    """Keep the newest MAX_CACHE_FILES models."""
    files = []
    for path in folder.glob("*.json"):
        try:
            files.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            continue
    files.sort(reverse=True)
    for _, path in files[MAX_CACHE_FILES:]:
        try:
            path.unlink()
        except OSError:
            pass
