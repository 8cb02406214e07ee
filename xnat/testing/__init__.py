"""An embedded XNAT server: the archive REST API of XNAT 1.8/1.9, offline.

It behaves, as far as a client can see, like a real XNAT: same URLs, status codes,
JSON/XML/CSV shapes and quirks. Use it to test scripts without a real server::

    import xnat
    from xnat.testing import XNATServer

    with XNATServer(users=["admin:admin:admin"]) as server:
        session = xnat.connect(server.url, user="admin", password="admin")

or without a socket, in-process, through the client's real code path::

    import requests
    from xnat.testing import XNATApp, mount

    http = requests.Session()
    mount(http, XNATApp(users=("admin:admin:admin",)), "http://xnat.test")

Public names (this package's ``__all__``): :class:`XNATServer`, :class:`XNATApp`,
:func:`mount` and :class:`WSGIAdapter`. They are loaded on first use, so ``import
xnat.testing`` is cheap and works without the ``server`` extra; using a name that needs
werkzeug without it raises an :class:`ImportError` that says what to install.

Modules (one line each; ``tests/testing/test_package.py`` checks that this list and the
folder agree):

* ``adapter``          a requests transport adapter that runs the app in-process (``mount``)
* ``app``              ``XNATApp``, the WSGI application: routing, authentication, errors
* ``auth``             users, passwords, JSESSIONID sessions, alias tokens, project roles
* ``backend/``         the archive's storage and access decisions: all SQL the handlers need, who may do what
* ``bundles``          reads an ``xdat:bundle`` (a ``POST /data/search`` body) into a plain description
* ``csrf``             when a write riding a browser's session must carry ``XNAT_CSRF``, and whether it does
* ``datatypes``        what the server knows from its schema set (types, fields, inheritance)
* ``dicomdump``        one DICOM file's header as XNAT's DICOM dump rows (``/data/services/dicomdump``)
* ``dicomreader``      uploaded DICOM archives read into studies, series and files, as XNAT's importer sees them
* ``displayfields``    XNAT's search fields, read from its display documents or ``display_fields.json`` (data)
* ``filestore``        files on disk in an archive tree: safe paths, atomic writes, archives
* ``handlers/``        the REST resources, one module per area (site, auth, archive, files, ...)
* ``httpserve``       the HTTP/1.1 request handler: persistent connections, bounded waits and body drains
* ``importing``        DICOM import: stage a study in the prearchive, then archive it in one transaction
* ``intervals``        durations in PostgreSQL's interval notation, as XNAT's preferences take them
* ``phantom``          small synthetic DICOM files (a head-like phantom) for the demo and ``--populate``
* ``prearchive_store`` the prearchive: received sessions, their status and files, before archiving
* ``pytest_plugin``    the ``xnat_server`` and ``xnat_server_factory`` fixtures (entry point ``pytest11``)
* ``representations``  table JSON/CSV/XML and item JSON/XML writers, shaped as XNAT writes them
* ``runner``           ``XNATServer``: a threaded HTTP server around the app, on a real port
* ``schemas/``         the compact default schema set (data, not code), laid out as ``<dir>/<name>.xsd``
* ``store``            SQLite metadata store (transactions; safe under concurrent requests)

Needs the ``server`` extra (werkzeug): ``pip install "xnat[server]"``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs; at run time see __getattr__
    from xnat.testing.adapter import WSGIAdapter, mount
    from xnat.testing.app import XNATApp
    from xnat.testing.runner import XNATServer

__all__ = ["WSGIAdapter", "XNATApp", "XNATServer", "mount"]

# Public name -> the module that defines it, imported on first use.
_EXPORTS = {
    "WSGIAdapter": "adapter",
    "XNATApp": "app",
    "XNATServer": "runner",
    "mount": "adapter",
}

# Third-party packages that only the ``server`` extra brings.
_SERVER_EXTRA = ("werkzeug",)


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562), naming the missing extra if there is one."""
    module_name = _EXPORTS.get(name)
    if module_name is None:
        # An AttributeError (not an ImportError) lets ``from xnat.testing import store``
        # fall through to importing the submodule.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as error:
        missing = (error.name or "").partition(".")[0]
        if missing not in _SERVER_EXTRA:
            raise
        raise ImportError(
            f"xnat.testing.{name} needs the 'server' extra ({missing} is not installed): "
            f'pip install "xnat[server]"',
            name=missing,
        ) from error
    value = getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
