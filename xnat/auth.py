"""Where a session's server URL and credentials come from.

Order of precedence, for each of server, user and password:

1. the argument given to :func:`xnat.connect`;
2. the environment: ``XNATPY_HOST``/``XNAT_HOST``, ``XNATPY_USER``/``XNAT_USER``,
   ``XNATPY_PASS``/``XNAT_PASS`` (the names xnatpy reads);
3. a netrc file (``netrc_file=``, else ``$NETRC``, else ``~/.netrc``; ``~/_netrc`` on
   Windows), looked up by host. A netrc that group or others may read is **refused**, with
   the command that fixes it: a world-readable password file is how passwords leak;
4. an interactive password prompt, only when a user is known and stdin is a terminal.

With no user anywhere the session is anonymous. A user that looks like an alias token
(a UUID) is used the same way: alias as user, secret as password.

pyxnat users can bring their JSON config file (``{"server", "user", "password", "verify"}``)
with :func:`read_config`; :func:`write_config` writes one with mode 0600.
"""

from __future__ import annotations

import getpass
import json
import logging
import netrc
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .exceptions import XNATAuthError, XNATValueError, redact

__all__ = [
    "PASSWORD_VARIABLES",
    "SERVER_VARIABLES",
    "USER_VARIABLES",
    "Credentials",
    "check_netrc_permissions",
    "default_netrc_path",
    "is_alias_token",
    "netrc_lookup",
    "normalise_server",
    "read_config",
    "resolve_credentials",
    "resolve_server",
    "write_config",
]

logger = logging.getLogger(__name__)

SERVER_VARIABLES = ("XNATPY_HOST", "XNAT_HOST")
USER_VARIABLES = ("XNATPY_USER", "XNAT_USER")
PASSWORD_VARIABLES = ("XNATPY_PASS", "XNAT_PASS")

_ALIAS_TOKEN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@dataclass(frozen=True)
class Credentials:
    """A user name and password, and where they came from.

    The password never appears in ``repr``/``str``: it is kept out of the dataclass
    representation so that a logged or printed ``Credentials`` is safe.
    """

    user: str | None
    password: str | None = field(default=None, repr=False)
    source: str = "anonymous"

    @property
    def anonymous(self) -> bool:
        """True when there is no user: the server's guest access is used."""
        return self.user is None

    @property
    def is_token(self) -> bool:
        """True when the user is an alias token (the password is then its secret)."""
        return is_alias_token(self.user)


def is_alias_token(user: str | None) -> bool:
    """Whether ``user`` has the shape of an XNAT alias token (a UUID)."""
    return bool(user) and bool(_ALIAS_TOKEN.match(user or ""))


def _first_env(names: tuple[str, ...]) -> tuple[str | None, str | None]:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value, name
    return None, None


def normalise_server(server: str) -> str:
    """Check a server URL and return it without a trailing slash or query.

    A URL with no scheme or no host is refused with an example of a good one, rather than
    failing later inside requests.
    """
    if not isinstance(server, str) or not server.strip():
        raise XNATValueError("No XNAT server given: pass server=, or set XNATPY_HOST or XNAT_HOST")
    text = server.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        if "://" not in text:
            hint = f"did you mean https://{text.lstrip('/')}?"
        else:
            hint = "only http:// and https:// are supported"
        raise XNATValueError(
            f"The server URL {redact(text)!r} has no http:// or https:// scheme: {hint}"
        )
    if not parts.hostname:
        raise XNATValueError(
            f"The server URL {redact(text)!r} has no host name: give a full URL such as "
            "https://xnat.example.org"
        )
    if parts.username or parts.password:
        raise XNATValueError(
            f"The server URL {redact(text)!r} contains credentials: pass user= and password= "
            "(or use a netrc file) instead of putting them in the URL"
        )
    try:
        parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
    except ValueError:
        raise XNATValueError(f"The server URL {redact(text)!r} has an invalid port") from None
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


def resolve_server(server: str | None) -> str:
    """The server URL: the argument, else ``XNATPY_HOST``, else ``XNAT_HOST``; checked."""
    if not server:
        server, name = _first_env(SERVER_VARIABLES)
        if server:
            logger.debug("Server URL taken from the %s environment variable", name)
    if not server:
        raise XNATValueError(
            "No XNAT server given: pass the URL (xnat.connect('https://xnat.example.org')) "
            "or set XNATPY_HOST or XNAT_HOST"
        )
    return normalise_server(server)


def default_netrc_path(netrc_file: str | os.PathLike[str] | None = None) -> Path:
    """The netrc file to read: the argument, else ``$NETRC``, else the home-folder file."""
    if netrc_file:
        return Path(netrc_file).expanduser()
    if os.environ.get("NETRC"):
        return Path(os.environ["NETRC"]).expanduser()
    name = "_netrc" if os.name == "nt" else ".netrc"
    return Path.home() / name


def check_netrc_permissions(path: Path) -> None:
    """Refuse a netrc file that anyone but its owner may read or write.

    On Windows, where POSIX modes mean little, nothing is checked.
    """
    if os.name == "nt":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise XNATAuthError(
            f"Refusing to read passwords from {path}: it may be read by other users "
            f"(mode {stat.S_IMODE(mode):04o}). Make it private with: chmod 600 {path}"
        )


def netrc_lookup(server: str, netrc_file: str | os.PathLike[str] | None = None) -> tuple[str, str] | None:
    """The ``(login, password)`` stored for ``server``'s host, or ``None``.

    Looks up ``host:port`` first, then the bare host name. A missing default file is no
    error; a missing file named explicitly (argument or ``$NETRC``) is.
    """
    explicit = bool(netrc_file) or bool(os.environ.get("NETRC"))
    path = default_netrc_path(netrc_file)
    if not path.is_file():
        if explicit:
            raise XNATValueError(f"The netrc file {path} does not exist")
        return None
    check_netrc_permissions(path)
    try:
        entries = netrc.netrc(os.fspath(path))
    except (netrc.NetrcParseError, OSError, UnicodeDecodeError) as error:
        # The parser's message can quote the offending line, which may hold a password.
        line = getattr(error, "lineno", None)
        where = f" (line {line})" if line else ""
        raise XNATValueError(f"The netrc file {path} could not be read{where}: check its syntax") from None
    parts = urlsplit(server)
    for host in (parts.netloc, parts.hostname):
        if not host:
            continue
        found = entries.authenticators(host)
        if found and found[0]:
            logger.debug("Credentials for %s found in %s", host, path)
            return found[0], found[2] or ""
    return None


def resolve_credentials(
    server: str,
    user: str | None = None,
    password: str | None = None,
    netrc_file: str | os.PathLike[str] | None = None,
    interactive: bool | None = None,
) -> Credentials:
    """Find the user and password for ``server`` (see the module docstring for the order).

    ``interactive`` decides whether a missing password may be asked for; by default only
    when stdin is a terminal. Without a terminal a missing password is an error that says
    where a password can be given.
    """
    source = "argument"
    if user is None:
        user, name = _first_env(USER_VARIABLES)
        source = f"environment ({name})" if user else source
    if password is None and user is not None:
        env_password, name = _first_env(PASSWORD_VARIABLES)
        env_user, _ = _first_env(USER_VARIABLES)
        # A password from the environment belongs to the environment's user, if one is set.
        if env_password and (env_user is None or env_user == user):
            password = env_password
    if user is not None and password is not None:
        return Credentials(user, password, source)

    found = netrc_lookup(server, netrc_file)
    if found is not None and (user is None or found[0] == user):
        return Credentials(found[0], found[1], "netrc")

    if user is None:
        return Credentials(None, None, "anonymous")

    if interactive is None:
        interactive = _stdin_is_terminal()
    if not interactive:
        raise XNATAuthError(
            f"No password for user {user!r} on {server}: pass password=, set XNATPY_PASS or "
            f"XNAT_PASS, or add a line to {default_netrc_path(netrc_file)} (mode 600)"
        )
    return Credentials(user, getpass.getpass(f"Password for {user}@{urlsplit(server).netloc}: "), "prompt")


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def read_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a pyxnat JSON config file: ``{"server", "user", "password", "verify"}``.

    Returns a dict with those keys (missing ones as ``None``; ``verify`` defaults to
    True and may be a bool or a CA path).
    """
    path = Path(path).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise XNATValueError(f"The config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = (error.strerror if isinstance(error, OSError) else None) or error
        raise XNATValueError(f"The config file {path} could not be read: {reason}") from None
    except json.JSONDecodeError as error:
        raise XNATValueError(f"The config file {path} is not valid JSON (line {error.lineno})") from None
    if not isinstance(data, dict):
        raise XNATValueError(f"The config file {path} must hold a JSON object with server, user and password")
    unknown = sorted(set(data) - {"server", "user", "password", "verify", "proxy"})
    if unknown:
        logger.warning("Ignoring unknown keys in config file %s: %s", path, ", ".join(unknown))
    if data.get("proxy"):
        logger.warning("The proxy setting in %s is not used: set HTTPS_PROXY instead", path)
    verify = data.get("verify", True)
    if verify is None:
        verify = True
    if not isinstance(verify, (bool, str)):
        raise XNATValueError(f"The config file {path}: verify must be true, false or a CA path")
    for key in ("server", "user", "password"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise XNATValueError(f"The config file {path}: {key} must be a string")
    return {
        "server": data.get("server"),
        "user": data.get("user"),
        "password": data.get("password"),
        "verify": verify,
    }


def write_config(
    path: str | os.PathLike[str],
    server: str,
    user: str | None,
    password: str | None = None,
    verify: bool | str = True,
) -> Path:
    """Write a pyxnat-compatible JSON config file, readable by its owner only (0600).

    The password is written only when given: pass it on purpose.
    """
    path = Path(path).expanduser()
    data: dict[str, Any] = {"server": server, "user": user, "verify": verify}
    if password is not None:
        data["password"] = password
    text = json.dumps(data, indent=2) + "\n"
    # Create with 0600 from the start (no window where the file is world-readable), and
    # tighten an existing file before writing the secret into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        if os.name != "nt":
            os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    logger.debug("Wrote config file %s (password %s)", path, "included" if password is not None else "left out")
    return path
