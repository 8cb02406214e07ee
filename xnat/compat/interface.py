"""pyxnat's ``Interface``: a connection with pyxnat's arguments, on our session.

``Interface(server, user, password)``, ``Interface(config="xnat.cfg")`` (pyxnat's JSON
file: ``server``, ``user``, ``password``, ``verify``) or ``Interface()`` (``~/.xnatPass``,
:mod:`xnat.compat.xnatpass`) logs in at once through
:func:`xnat.connect`, so a wrong password or a dead server is an error here rather than
an empty listing later. The session it holds is ours: one keep-alive connection pool,
timeouts on every request, retries for idempotent ones, a ``JSESSIONID`` instead of the
password on every request.

``get/put/post/delete/head(uri, **kwargs)`` are pyxnat's raw calls: they return the
``requests.Response`` whatever its status, as pyxnat does.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

import requests

from ..auth import SERVER_VARIABLES, read_config, write_config
from ..exceptions import XNATValueError
from .errors import NotSupportedError
from .manage import Array, Inspect, Manage
from .select import Select
from .xnatpass import default_path, read_xnat_pass

__all__ = ["Interface"]

logger = logging.getLogger(__name__)

_ANY_STATUS = range(100, 600)


class Interface:
    """A connection to an XNAT server, as pyxnat's ``Interface``.

    :param server: the server URL; with ``config`` it comes from the file; with none of
        server, user, password and config, from ``~/.xnatPass`` (unless ``XNAT_HOST`` is set)
    :param user: the login (else ``XNAT_USER``/netrc/prompt, as :func:`xnat.connect`)
    :param password: the password or token secret
    :param config: pyxnat's JSON config file; its values win, as in pyxnat
    :param anonymous: connect without credentials
    :param verify: check TLS certificates: True, False or a CA bundle path
    :param cachedir: accepted for old scripts; pyxnat has no cache since 1.0, nor has this
    :param proxy: refused with a clear error: set ``HTTPS_PROXY`` in the environment instead
    :param connect_options: passed on to :func:`xnat.connect` (``default_timeout``,
        ``transport``, ...)
    """

    def __init__(self, server: str | None = None, user: str | None = None, password: str | None = None,
                 config: str | os.PathLike[str] | None = None, anonymous: bool = False,
                 verify: bool | str | None = True, cachedir: str | None = None, proxy: str | None = None,
                 **connect_options: Any) -> None:
        from .. import connect  # the entry point sits in the package above; imported on use only

        if proxy:
            # The login happens inside connect(), which takes no proxy: setting one afterwards
            # would send the password directly and only later requests through the proxy.
            raise NotSupportedError(
                f"proxy={proxy!r} is not supported: set HTTPS_PROXY (and HTTP_PROXY) in the environment instead, "
                "which every request, the login included, honours"
            )
        if cachedir is not None:
            logger.debug("cachedir=%s is ignored: pyxnat has had no cache since 1.0", cachedir)
        if not anonymous and server is None and user is None and password is None and config is None \
                and _use_xnat_pass():
            server, user, password = read_xnat_pass()
        if config is not None:
            settings = read_config(config)
            server, user, password = settings["server"], settings["user"], settings["password"]
            verify = settings["verify"]
        if verify is None:
            verify = True
        self._anonymous = anonymous
        self._user = None if anonymous else user
        self._password = None if anonymous else password
        if anonymous:
            self._session = _connect_anonymously(server, verify, connect_options)
        else:
            self._session = connect(server, user=user, password=password, verify=verify, no_parse_model=True,
                                    **connect_options)
        self.select = Select(self._session)
        self.inspect = Inspect(self._session)
        self.manage = Manage(self._session)
        self.array = Array(self._session)

    def __repr__(self) -> str:
        return f"<Interface {self._session.server}>"

    def __enter__(self) -> Interface:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.disconnect()

    @property
    def session(self) -> Any:
        """The :class:`xnat.session.XNATSession` underneath, for our own API."""
        return self._session

    def save_config(self, location: str | os.PathLike[str]) -> None:
        """Write pyxnat's JSON config file, password included, readable by its owner only (0600)."""
        if self._anonymous:
            raise XNATValueError("an anonymous Interface has no credentials to save")
        verify = self._session.interface.verify
        write_config(location, self._session.original_uri, self._user or self._session.logged_in_user,
                     self._password, verify=verify if isinstance(verify, (bool, str)) else True)

    def disconnect(self) -> None:
        """Log out and close the connections."""
        self._session.disconnect()

    def close_jsession(self) -> None:
        """End the server session (as ``disconnect``; pyxnat keeps its HTTP pool open)."""
        self._session.disconnect()

    def version(self) -> dict[str, str]:
        return {"version": self._session.xnat_version}

    # -- pyxnat's raw calls: the response whatever its status --------------------------
    def _raw(self, method: str, uri: str, **kwargs: Any) -> requests.Response:
        return self._session.request(method, uri, accepted_status=_ANY_STATUS, **kwargs)  # type: ignore[no-any-return]  # the session is typed Any here

    def get(self, uri: str, **kwargs: Any) -> requests.Response:
        return self._raw("GET", uri, **kwargs)

    def head(self, uri: str, **kwargs: Any) -> requests.Response:
        return self._raw("HEAD", uri, **kwargs)

    def put(self, uri: str, **kwargs: Any) -> requests.Response:
        return self._raw("PUT", uri, **kwargs)

    def post(self, uri: str, **kwargs: Any) -> requests.Response:
        return self._raw("POST", uri, **kwargs)

    def delete(self, uri: str, **kwargs: Any) -> requests.Response:
        return self._raw("DELETE", uri, **kwargs)

    def _get_json(self, uri: str) -> list[dict[str, str]]:
        """The rows of a listing (pyxnat's helper that many scripts call)."""
        document = self._session.get_json(uri)
        return list(document["ResultSet"]["Result"])


def _use_xnat_pass() -> bool:
    """Whether a call without arguments reads ``~/.xnatPass``: when it is there, as pyxnat;
    when it is not, unless ``XNAT_HOST`` (our own setting) names the server instead."""
    return default_path().is_file() or not any(os.environ.get(name) for name in SERVER_VARIABLES)


def _connect_anonymously(server: str | None, verify: bool | str, options: dict[str, Any]) -> Any:
    """Connect with no credentials: an empty private netrc keeps ``~/.netrc`` out of it."""
    from .. import connect

    with tempfile.TemporaryDirectory() as folder:
        empty = os.path.join(folder, "netrc")
        os.close(os.open(empty, os.O_WRONLY | os.O_CREAT, 0o600))
        options = {"netrc_file": empty, **options}
        return connect(server, user=None, password=None, verify=verify, no_parse_model=True, **options)
