"""The minimal base of every generated class.

Generated classes (``MrSessionData``, ...) derive from :class:`XNATBaseObject`. This module
only gives them identity and a place to keep field values; talking to the server (reading
an item, PUTting a field, listings) belongs to the object layer, which replaces the
**storage seam** below: :meth:`XNATBaseObject._get_field`, :meth:`~XNATBaseObject._set_field`,
:meth:`~XNATBaseObject._del_field` and :meth:`~XNATBaseObject._get_child`. Until then they
read and write the local ``datafields`` dict. Nothing here makes a request; ``repr`` never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ..exceptions import XNATValueError

if TYPE_CHECKING:  # pragma: no cover
    from ..schema.model import TypeDef
    from .properties import ChildProperty

__all__ = ["XNATBaseObject"]


class XNATBaseObject:
    """An XNAT object of one data type (its xsi type is ``__xsi_type__``)."""

    __xsi_type__: ClassVar[str] = ""
    #: The schema type this class was built from (set by the class factory).
    __schema_type__: ClassVar["TypeDef | None"] = None
    #: Python name -> descriptor, for every schema field of the class and its bases.
    __fields__: ClassVar[dict[str, Any]] = {}
    #: The session: on a class, the one whose schemas built it (set by the class factory);
    #: on an instance, the one it belongs to.
    xnat_session: Any = None

    def __init__(
        self,
        uri: str | None = None,
        session: Any = None,
        datafields: dict[str, Any] | None = None,
        parent: Any = None,
        fieldname: str | None = None,
        xnat_session: Any = None,
        **fields: Any,
    ) -> None:
        self._uri = uri
        # The instance's session shadows the class default (xnatpy calls it xnat_session).
        self.xnat_session = next(
            (s for s in (session, xnat_session, type(self).xnat_session) if s is not None), None
        )
        self._parent = parent
        self._fieldname = fieldname
        self._datafields: dict[str, Any] = dict(datafields or {})
        for name, value in fields.items():
            if name not in type(self).__fields__:
                raise XNATValueError(f"{type(self).__name__} has no field {name!r}")
            setattr(self, name, value)

    @property
    def uri(self) -> str | None:
        """The REST path of the object, when known."""
        return self._uri

    @property
    def parent(self) -> Any:
        """The containing object, when known."""
        return self._parent

    # --- storage seam: the object layer (issue 5) replaces these four -----------------
    def _get_field(self, name: str) -> Any:
        """The raw value of schema field ``name`` (as the server spells it), or None."""
        return self._datafields.get(name)

    def _set_field(self, name: str, text: str) -> None:
        """Store ``text`` (already converted and checked) for schema field ``name``."""
        self._datafields[name] = text

    def _del_field(self, name: str) -> None:
        """Remove the value of schema field ``name``."""
        self._datafields.pop(name, None)

    def _get_child(self, prop: "ChildProperty") -> Any:
        """A nested object or repeated element; here simply the stored raw value."""
        return self._datafields.get(prop.xpath)

    # --- presentation ------------------------------------------------------------------
    def __repr__(self) -> str:
        where = self._uri or "(not stored)"
        return f"<{type(self).__name__} {where}>"
