"""What a behaviour mixin may use of the object it is mixed into, for the type checker.

A mixin is a plain class at run time: the class factory puts it first among the bases of
a generated class, whose root is :class:`~xnat.classes.base.XNATBaseObject`, so ``self``
is always such an object. The mixin bodies use that object's members (``self.uri``,
``self._session()``, ...), which the mixin itself does not define.

Why a static base rather than ``self: Protocol`` annotations: a mixin also calls its own
helpers (``self._prefix()``, ``self._files_url()``), which a host protocol annotated on
``self`` would hide. So each mixin derives from :data:`HostBase`: the
:class:`BehaviourHost` protocol while type checking, plain ``object`` at run time. The
mixins' bases, MRO and attributes are unchanged, and every use of the host is checked
against the one declaration below, which is itself checked against ``XNATBaseObject``
at the end of this module, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

__all__ = ["BehaviourHost", "HostBase", "LabelledHost", "LabelledHostBase"]


class BehaviourHost(Protocol):
    """The members of ``XNATBaseObject`` the behaviour mixins rely on."""

    # Members are declared as properties: mypy cannot type a plain protocol attribute that
    # an explicit subclass assigns to ("Cannot determine type"), and most are read-only here.

    @property
    def xnat_session(self) -> Any:
        """The session the object belongs to (untyped: the session layer is dynamic)."""

    @property
    def _row(self) -> Mapping[str, str] | None:
        """The listing row the object was made from, if any (a resource trims it after uploads)."""

    @_row.setter
    def _row(self, value: Mapping[str, str] | None) -> None: ...

    @property
    def uri(self) -> str | None: ...

    @property
    def fulluri(self) -> str | None: ...

    @property
    def id(self) -> str | None: ...

    @property
    def parent(self) -> Any: ...

    @property
    def _cache(self) -> dict[str, Any]: ...

    def _session(self) -> Any: ...

    def _get_field(self, name: str) -> Any: ...

    def _after_write(self) -> None: ...


class LabelledHost(BehaviourHost, Protocol):
    """A host whose data type has a ``label`` field (subjects, experiments).

    The field is a descriptor the class factory makes from the schema, so it is not on
    ``XNATBaseObject``; its value is the schema's text (typed ``Any`` like every field).
    """

    @property
    def label(self) -> Any: ...


if TYPE_CHECKING:
    from ..base import XNATBaseObject

    HostBase = BehaviourHost
    LabelledHostBase = LabelledHost
    # The declaration above must stay true of the real base class.
    _HOST_CHECK: type[BehaviourHost] = XNATBaseObject
else:
    HostBase = object
    LabelledHostBase = object
