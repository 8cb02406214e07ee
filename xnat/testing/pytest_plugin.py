"""pytest fixtures for testing code that talks to XNAT, with the embedded server.

Installed with the package (entry point ``pytest11``), so in any project that has
``xnat[server]`` installed a test can simply ask for a server::

    import xnat

    def test_my_script(xnat_server):
        with xnat.connect(xnat_server.url, user="admin", password="admin") as session:
            ...

Fixtures:

* ``xnat_server``: a fresh server on a free loopback port for one test, user
  ``admin``/``admin`` (an administrator); its data is removed afterwards.
* ``xnat_server_factory``: a callable taking :class:`~xnat.testing.runner.XNATServer`
  options (``users``, ``populate``, ``schemas``, ``allow_anonymous``...) for tests
  that need another set-up; every server it made is closed after the test.

This module imports nothing heavy at import time: pytest loads it in every project
that has ``xnat`` installed, with or without the ``server`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from xnat.testing.runner import XNATServer


@pytest.fixture()
def xnat_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., XNATServer]]:
    """Make embedded XNAT servers with any options; all are closed after the test."""
    from xnat.testing.runner import XNATServer

    servers: list[XNATServer] = []

    def make(**options: Any) -> XNATServer:
        options.setdefault("data_dir", tmp_path_factory.mktemp("xnat-server"))
        server = XNATServer(**options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture()
def xnat_server(xnat_server_factory: Callable[..., XNATServer]) -> XNATServer:
    """A running embedded XNAT server with an ``admin``/``admin`` administrator."""
    return xnat_server_factory(users=["admin:admin:admin"])
