"""xnat: a fast, schema-driven Python client for XNAT.

``xnat.connect(server, user, password)`` logs in, reads the server's data-type schemas,
builds a Python class for each type and returns a session whose listings map one-to-one
onto XNAT's REST hierarchy::

    with xnat.connect("https://xnat.example.org", user="me") as session:
        for project in session.projects.values():
            print(project.id, project.name)

``xnat.testing`` holds an embedded XNAT server for offline use and testing.
"""

import logging as _logging
import os as _os
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from . import exceptions
from .exceptions import XNATError, XNATValueError
from .version import __version__

if _TYPE_CHECKING:  # pragma: no cover
    import requests
    from requests.adapters import BaseAdapter

    from .session import BaseXNATSession

__all__ = [
    "FilterFunctions",
    "MappedFunctionFailed",
    "MappingLevel",
    "XNATError",
    "XNATSession",
    "__version__",
    "connect",
    "exceptions",
]


_logger = _logging.getLogger(__name__)


def __getattr__(name: str) -> _Any:
    """xnatpy's top-level names beside ``connect``, imported on first use so that
    ``import xnat`` stays light."""
    if name == "XNATSession":
        from .session import XNATSession

        return XNATSession
    if name in ("MappingLevel", "FilterFunctions", "MappedFunctionFailed"):
        from .services import mapping

        return getattr(mapping, name)
    raise AttributeError(f"module 'xnat' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"XNATSession", "MappingLevel", "FilterFunctions", "MappedFunctionFailed"})


def connect(
    server: str | None = None,
    user: str | None = None,
    password: str | None = None,
    verify: bool | str | None = True,
    netrc_file: str | _os.PathLike[str] | None = None,
    debug: bool = False,
    extension_types: bool = True,
    loglevel: int | str | None = None,
    logger: _logging.Logger | None = None,
    detect_redirect: bool = True,
    no_parse_model: bool = False,
    default_timeout: float | tuple[float, float] | None = 300,
    auth_provider: str | None = None,
    jsession: str | None = None,
    cli: bool = False,
    pilot_timeout: float | tuple[float, float] | None = 12.0,
    *,
    config: str | _os.PathLike[str] | None = None,
    pool_size: int = 16,
    keepalive: bool | float = True,
    transport: "BaseAdapter | None" = None,
    trust_redirect: bool = False,
    request_deadline: float | None = 600.0,
    min_transfer_rate: float | None = 1024.0,
    transfer_rate_window: float = 60.0,
) -> "BaseXNATSession":
    """Log in to an XNAT server and return a session (usable as a context manager).

    The arguments are xnatpy's; a script written for xnatpy runs unchanged.

    :param server: the server URL (``https://xnat.example.org``); else ``XNATPY_HOST`` or
        ``XNAT_HOST``
    :param user: user name or alias token; else ``XNATPY_USER``/``XNAT_USER``, else the
        netrc file; none at all means anonymous access
    :param password: password or token secret; else ``XNATPY_PASS``/``XNAT_PASS``, the
        netrc file, or a prompt (only on a terminal)
    :param verify: check the server's TLS certificate: ``True``, ``False`` or a CA bundle
        path (``REQUESTS_CA_BUNDLE`` and friends are honoured with ``True``)
    :param netrc_file: the netrc file to read (else ``$NETRC``, else ``~/.netrc``); it must
        be private to its owner (``chmod 600``)
    :param debug: log every request and answer at DEBUG (configure ``logging`` to see them)
    :param extension_types: also build classes for plugin data types
    :param loglevel: set this level on ``logger`` (or the ``xnat`` logger); nothing else is changed
    :param logger: the logger the session reports to (default: ``xnat.session``)
    :param detect_redirect: follow http->https redirects and find a ``/xnat`` context path
    :param no_parse_model: skip reading the server's schemas (no ``session.classes``)
    :param default_timeout: seconds (or ``(connect, read)``) for every request
    :param auth_provider: the XNAT authentication provider to log in with (LDAP, ...)
    :param jsession: reuse this existing server session id instead of logging in
    :param cli: keep the server session alive on disconnect (for command-line tools)
    :param pilot_timeout: timeout for the login requests (at most ``default_timeout``), so
        a server that hangs fails the connect quickly
    :param config: a pyxnat JSON config file (``server``, ``user``, ``password``,
        ``verify``); explicit arguments win over it
    :param pool_size: connections kept per host, for parallel transfers
    :param keepalive: run the heartbeat thread (or its interval in seconds)
    :param transport: a ``requests`` transport adapter to carry every request to the server's
        host (both schemes) instead of the network; e.g. the embedded server in-process::

            import xnat
            from xnat.testing.adapter import WSGIAdapter
            from xnat.testing.app import XNATApp

            app = XNATApp()  # user admin/admin
            session = xnat.connect("http://xnat.test", user="admin", password="admin",
                                   transport=WSGIAdapter(app))
            print(session.projects)
            session.disconnect()

    :param trust_redirect: log in where the server redirects even when that is another host
        or port. By default credentials go only to the server named (or its https upgrade on
        the same host) and such a redirect is refused, naming the URL to connect to instead
    :param request_deadline: seconds an ordinary request may take in all, body included
        (600 by default; ``default_timeout`` bounds each read only), and the longest any
        answer, transfers included, may take to begin (its headers); ``None``: no bound
    :param min_transfer_rate: the slowest a download or upload may run, in bytes per second (1 KiB/s
        by default), measured over ``transfer_rate_window`` seconds (60 by default); a
        slower one stops with :class:`~xnat.exceptions.XNATTimeoutError`; ``None``: no rule
    """
    from . import auth
    from . import transport as _transport
    from .session import BaseXNATSession, XNATSession

    if loglevel is not None:
        # Only the level the caller asked for, on the logger the caller named (else the
        # package's own): no handlers added, nothing else touched.
        try:
            (logger or _logging.getLogger(__name__)).setLevel(loglevel)
        except (TypeError, ValueError):
            raise XNATValueError(f"loglevel must be a logging level such as 'DEBUG' or 10, not {loglevel!r}") from None
    if config is not None:
        settings = auth.read_config(config)
        server = server or settings["server"]
        user = user if user is not None else settings["user"]
        password = password if password is not None else settings["password"]
        if verify is True and settings["verify"] is not True:
            verify = settings["verify"]
    for name, value in (("default_timeout", default_timeout), ("pilot_timeout", pilot_timeout)):
        if value is not None and not _valid_timeout(value):
            raise XNATValueError(f"{name} must be a positive number of seconds, not {value!r}")

    server_url = auth.resolve_server(server)
    if jsession is not None:
        credentials = auth.Credentials(user, password, "jsession") if user else auth.Credentials(None, None, "jsession")
    else:
        credentials = auth.resolve_credentials(server_url, user, password, netrc_file)
    interface = _transport.build_transport(verify, default_timeout, pool_size=pool_size)
    if transport is not None:
        _mount(interface, transport, server_url)
    session_class = BaseXNATSession if cli else XNATSession
    session = session_class(
        server_url, interface, credentials=credentials, logger=logger, debug=debug,
        default_timeout=default_timeout, auth_provider=auth_provider,
    )
    session.login_timeout = _shorter(pilot_timeout, default_timeout)
    _limit(session, trust_redirect, request_deadline, min_transfer_rate, transfer_rate_window)
    try:
        if jsession is not None:
            session.adopt_jsession(jsession)
        else:
            session.authenticate(detect_redirect=detect_redirect)
        if not no_parse_model:
            _build_model(session, extension_types)
        if keepalive:
            session.keepalive = keepalive
    except BaseException:
        # Never leave a half-open session behind: log out what we opened, close sockets.
        try:
            session.disconnect()
        except XNATError:  # the original error is the one to report
            pass
        raise
    return session


def _mount(interface: "requests.Session", adapter: "BaseAdapter", server_url: str) -> None:
    """Route every request to ``server_url``'s host, over http and https, to ``adapter``."""
    from urllib.parse import urlsplit

    from requests.adapters import BaseAdapter

    if not isinstance(adapter, BaseAdapter):
        raise XNATValueError(f"transport must be a requests transport adapter, not {type(adapter).__name__}")
    host = urlsplit(server_url).netloc
    for scheme in ("http", "https"):
        interface.mount(f"{scheme}://{host}/", adapter)


def _limit(session: "BaseXNATSession", trust_redirect: bool, request_deadline: float | None,
           min_transfer_rate: float | None, transfer_rate_window: float) -> None:
    """Check and apply the redirect, deadline and throughput options."""
    if request_deadline is not None and not _valid_timeout(request_deadline):
        raise XNATValueError(f"request_deadline must be a positive number of seconds, not {request_deadline!r}")
    if min_transfer_rate is not None and not (_valid_timeout(min_transfer_rate) or min_transfer_rate == 0):
        raise XNATValueError(f"min_transfer_rate must be a number of bytes per second, not {min_transfer_rate!r}")
    if not _valid_timeout(transfer_rate_window):
        raise XNATValueError(f"transfer_rate_window must be a positive number of seconds, not {transfer_rate_window!r}")
    session.trust_redirect = bool(trust_redirect)
    session.request_deadline = request_deadline
    session.min_transfer_rate = min_transfer_rate
    session.transfer_rate_window = transfer_rate_window


def _valid_timeout(value: _Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value > 0
    if isinstance(value, tuple) and len(value) == 2:
        return all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
    return False


def _shorter(first: _Any, second: _Any) -> _Any:
    """The shorter of two timeouts (numbers or pairs); ``None`` means no bound."""
    if first is None or second is None:
        return second if first is None else first
    if isinstance(first, tuple) or isinstance(second, tuple):
        return first if max(_pair(first)) <= max(_pair(second)) else second
    return min(first, second)


def _pair(value: _Any) -> tuple[float, float]:
    return value if isinstance(value, tuple) else (value, value)


def _build_model(session: "BaseXNATSession", extension_types: bool) -> None:
    """Read the server's schemas and build its classes (xnat.schema / xnat.classes)."""
    from .classes.factory import build_classes
    from .schema.loader import load_model

    model = load_model(session, extension_types=extension_types)
    session.classes = build_classes(model, session)
    lookup = getattr(session.classes, "lookup", None)
    if lookup is not None:
        session.XNAT_CLASS_LOOKUP = lookup
    from .services.search_classes import install_search

    install_search(session)  # Class.query(), search templates; display fields on first query
