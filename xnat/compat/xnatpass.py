"""pyxnat's ``~/.xnatPass``: the server and credentials ``Interface()`` uses when given none.

The file holds a line ``+user@server=password`` (pyxnat reads the first line that starts
with ``+``; other lines are ignored): the login runs to the first ``@``, the server to the
next ``=``, and the password is the rest, spaces around each part trimmed. As with
``~/.netrc``, a file that anyone but its owner may read is refused (pyxnat does not check),
and no error message ever shows the password.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..auth import check_netrc_permissions
from ..exceptions import XNATValueError

__all__ = ["XnatPass", "default_path", "read_xnat_pass"]

_FORMAT = "a line '+user@server=password' (e.g. +alice@https://xnat.example.org=PASSWORD)"


class XnatPass(NamedTuple):
    """One entry of ``~/.xnatPass``."""

    server: str
    user: str
    password: str

    def __repr__(self) -> str:  # the password stays out of logs and tracebacks
        return f"XnatPass(server={self.server!r}, user={self.user!r}, password='***')"


def default_path() -> Path:
    """``~/.xnatPass`` (``$HOME/.xnatPass``, where pyxnat looks)."""
    return Path.home() / ".xnatPass"


def read_xnat_pass(path: str | os.PathLike[str] | None = None) -> XnatPass:
    """The entry of an ``.xnatPass`` file; a clear error when it is missing, shared or malformed."""
    location = Path(path).expanduser() if path is not None else default_path()
    if not location.is_file():
        raise XNATValueError(f"no server given and there is no {location}: pass server=, user= and password= "
                             f"(or config=), or write {_FORMAT} into {location} (mode 600)")
    check_netrc_permissions(location)
    try:
        lines = location.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = (error.strerror if isinstance(error, OSError) else None) or type(error).__name__
        raise XNATValueError(f"{location} could not be read: {reason}") from None
    entry = next((line[1:] for line in lines if line.startswith("+")), None)
    if entry is None:
        raise XNATValueError(f"{location} holds no line starting with '+': write {_FORMAT}")
    user, at, rest = entry.partition("@")
    server, equals, password = rest.partition("=")
    if not (at and equals and user.strip() and server.strip()):
        raise XNATValueError(f"the '+' line of {location} is not '+user@server=password': write {_FORMAT}")
    return XnatPass(server.strip(), user.strip(), password.strip())
