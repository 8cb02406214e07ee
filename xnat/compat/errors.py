"""pyxnat's exception names, as aliases over this library's exceptions.

pyxnat raises a PEP 249 family (``Error``, ``DatabaseError``, ``OperationalError``...).
Here every name is one of our own classes, so an ``except DatabaseError:`` clause in a
pyxnat script still catches what goes wrong, and the message is ours: method, URL,
status and the server's reason, never a password.

=====================  ===========================================================
pyxnat name            what it is here
=====================  ===========================================================
``Error``              :class:`~xnat.exceptions.XNATError`, the base of everything
``DatabaseError``      :class:`~xnat.exceptions.XNATError` (pyxnat's catch-all)
``InterfaceError``     :class:`~xnat.exceptions.XNATValueError` (a bad argument)
``DataError``          :class:`~xnat.exceptions.XNATValueError`
``ProgrammingError``   :class:`~xnat.exceptions.XNATResponseError` (the server refused)
``InternalError``      :class:`~xnat.exceptions.XNATResponseError`
``OperationalError``   :class:`~xnat.exceptions.XNATConnectionError` (unreachable, timeout)
``IntegrityError``     :class:`~xnat.exceptions.XNATObjectAlreadyExistsError`
``NotSupportedError``  a new subclass of ``XNATError`` and ``NotImplementedError``: the
                       server or this layer does not offer the call
=====================  ===========================================================

pyxnat reports a failed login as ``OperationalError``; here it is
:class:`~xnat.exceptions.XNATLoginFailedError`, which is still a ``DatabaseError``.
"""

from __future__ import annotations

from ..exceptions import (
    XNATConnectionError,
    XNATError,
    XNATObjectAlreadyExistsError,
    XNATResponseError,
    XNATValueError,
)

__all__ = [
    "DataError",
    "DatabaseError",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
]

Error = XNATError
DatabaseError = XNATError
InterfaceError = XNATValueError
DataError = XNATValueError
ProgrammingError = XNATResponseError
InternalError = XNATResponseError
OperationalError = XNATConnectionError
IntegrityError = XNATObjectAlreadyExistsError


class NotSupportedError(XNATError, NotImplementedError):
    """The call exists in pyxnat but the server (or this layer) does not offer it; the message says what is missing."""
