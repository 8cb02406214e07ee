"""pyxnat's ``manage.users``: who is registered on the server, from ``/data/users``.

``manage.users()`` lists the logins; ``firstname(login)``, ``lastname``, ``email`` and
``id`` read one user's row (one request each, as pyxnat). A login the server does not list
is a clear error (pyxnat answers an empty list).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import XNATValueError

__all__ = ["Users"]


class Users:
    """The server's users, as pyxnat's ``interface.manage.users``."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __repr__(self) -> str:
        return "<Users>"

    def _rows(self) -> list[dict[str, str]]:
        return list(self._session.get_json("/data/users")["ResultSet"]["Result"])

    def __call__(self) -> list[str]:
        """Every login the server lists."""
        return [row["login"] for row in self._rows()]

    def _value(self, login: str, column: str) -> str:
        rows = self._rows()
        for row in rows:
            if row.get("login") == login:
                return str(row.get(column, ""))
        raise XNATValueError(f"there is no user {login!r} on the server; it lists {len(rows)} users")

    def firstname(self, login: str) -> str:
        return self._value(login, "firstname")

    def lastname(self, login: str) -> str:
        return self._value(login, "lastname")

    def email(self, login: str) -> str:
        return self._value(login, "email")

    def id(self, login: str) -> str:
        """The user's numeric ID (``xdat_user_id``)."""
        return self._value(login, "xdat_user_id")
