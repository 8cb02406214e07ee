"""Lists inside one object's document: custom fields, nested objects, simple values.

* :class:`XNATSimpleListing`: ``name -> value`` pairs such as ``subject.fields`` (XNAT's
  ``fields/field`` custom fields) with set and delete, each one ``PUT``.
* :class:`XNATSubListing`: repeated nested objects (``project.investigators``,
  ``subject.sharing``), indexable by position or by their key field.

Both read the owner's :attr:`~xnat.classes.base.XNATBaseObject.fulldata`, fetched once
and cached, so they make no request of their own when read.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from ..exceptions import XNATKeyError, XNATValueError

if TYPE_CHECKING:  # pragma: no cover
    from .properties import ChildProperty

#: An :class:`~xnat.classes.base.XNATBaseObject`; named, not imported (base imports this module).
XNATObject = Any

__all__ = ["XNATSimpleListing", "XNATSubListing", "child_value"]

_KEY_FIELDS = ("name", "label", "ID", "project", "id")


def child_value(owner: XNATObject, prop: ChildProperty, generic: type) -> Any:
    """What a complex schema field of a bound or nested object reads as.

    ``generic`` is the class for a type the session has no class for (``XNATBaseObject``).
    """
    if prop.xpath.endswith("fields/field"):
        return XNATSimpleListing(owner, prop.xpath, "name", "field")
    if prop.item_type == "xnat:addField":  # scan parameters: addParam[name=K]/addField
        return XNATSimpleListing(owner, prop.xpath, "name", "addField")
    if prop.kind == "values":
        return [item.get("data_fields", {}).get(prop.xpath.rsplit("/", 1)[-1])
                for item in owner._children(prop.xpath)]
    cls = _class_for(owner, prop.item_type, generic)
    if prop.kind == "object":
        items = owner._children(prop.xpath)
        item = items[0] if items else None
        if item is not None:
            cls = _class_for(owner, item.get("meta", {}).get("xsi:type") or prop.item_type, cls)
        else:
            cls = _concrete(owner, cls)
        root = owner._root if owner._root is not None else owner
        nested = cls._nested(root, _relative(owner, prop.xpath), item, owner)
        return nested
    return XNATSubListing(owner, prop.xpath, cls)


def _relative(owner: XNATObject, xpath: str) -> str:
    """A nested part's path from the root document (``demographics``, ``PI/...``)."""
    if owner._root is not None and owner._fieldname:
        return f"{owner._fieldname}/{xpath}"
    return xpath


def _class_for(owner: XNATObject, xsi_type: str, default: Any) -> Any:
    classes = getattr(owner.xnat_session, "classes", None)
    lookup = getattr(classes, "lookup", {}) if classes is not None else {}
    return lookup.get(xsi_type) or default


def _concrete(owner: XNATObject, cls: Any) -> Any:
    """For an abstract type (``abstractDemographicData``), its simplest concrete subtype."""
    if "abstract" not in getattr(cls, "__xsi_type__", "").lower():
        return cls
    lookup = getattr(getattr(owner.xnat_session, "classes", None), "lookup", {}) or {}
    subtypes = [c for key, c in lookup.items() if "/" not in key and "abstract" not in key.lower()
                and isinstance(c, type) and issubclass(c, cls)]
    return min(subtypes, key=lambda c: (len(c.__mro__), getattr(c, "__xsi_type__", ""))) if subtypes else cls


class XNATSimpleListing(MutableMapping[str, Any]):
    """``key -> value`` pairs inside an object (``subject.fields["weight"]``).

    Reading uses the owner's cached document; ``listing[key] = value`` and ``del
    listing[key]`` are one PUT each (``<type>/fields/field[name=key]/field=value``).
    """

    def __init__(self, owner: XNATObject, xpath: str, key_field: str, value_field: str) -> None:
        self._owner = owner
        self.xpath = xpath
        self._key_field = key_field
        self._value_field = value_field

    def _data(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for item in self._owner._children(self.xpath):
            fields = item.get("data_fields", {})
            if self._key_field in fields:
                found[str(fields[self._key_field])] = fields.get(self._value_field)
        return found

    def __getitem__(self, key: str) -> Any:
        data = self._data()
        if key in data:
            return data[key]
        lowered = {k.lower(): v for k, v in data.items()}  # XNAT stores custom field names lower-case
        if isinstance(key, str) and key.lower() in lowered:
            return lowered[key.lower()]
        raise XNATKeyError(f"{self._owner!r} has no {self.xpath} entry {key!r} (it has: {', '.join(data) or 'none'})")

    def _path(self, key: str) -> str:
        if not isinstance(key, str) or not key or any(c in key for c in "[]=/"):
            raise XNATValueError(f"{key!r} cannot be the name of a field: use letters, digits and _")
        return f"{self._owner.xpath}/{self.xpath}[{self._key_field}={key}]/{self._value_field}"

    def __setitem__(self, key: str, value: Any) -> None:
        if value is None:
            raise XNATValueError(f"{self.xpath}[{key!r}]: use del to clear a value, not None")
        self._owner._write({self._path(key): str(value)})

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise XNATKeyError(f"{self._owner!r} has no {self.xpath} entry {key!r}")
        self._owner._write({self._path(key): "NULL"})

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def _ipython_key_completions_(self) -> list[str]:
        return list(self._data()) if "fulldata" in self._owner._cache else []

    def __repr__(self) -> str:
        if "fulldata" not in self._owner._cache and self._owner._root is None:
            return f"<XNATSimpleListing {self.xpath} (not loaded)>"
        return f"<XNATSimpleListing {self._data()!r}>"


class XNATSubListing(Sequence[Any]):
    """Repeated nested objects inside an object's document (``subject.sharing``)."""

    def __init__(self, owner: XNATObject, xpath: str, cls: Any) -> None:
        self._owner = owner
        self.xpath = xpath
        self._cls = cls

    def _objects(self) -> list[Any]:
        root = self._owner._root if self._owner._root is not None else self._owner
        made = []
        for index, item in enumerate(self._owner._children(self.xpath), start=1):
            cls = _class_for(self._owner, item.get("meta", {}).get("xsi:type") or "", self._cls)
            made.append(cls._nested(root, f"{_relative(self._owner, self.xpath)}[{index}]", item))
        return made

    def __getitem__(self, item: Any) -> Any:
        objects = self._objects()
        if isinstance(item, (int, slice)):
            return objects[item]
        for obj in objects:
            fields = (obj._nested_item or {}).get("data_fields", {})
            if any(str(fields.get(k)) == item for k in _KEY_FIELDS if k in fields):
                return obj
        raise XNATKeyError(f"no entry {item!r} in {self.xpath} of {self._owner!r}")

    def __len__(self) -> int:
        return len(self._owner._children(self.xpath))

    def __delitem__(self, index: int) -> None:
        obj = self._objects()[index]
        self._owner._write({obj.xpath: "NULL"})

    def __repr__(self) -> str:
        if "fulldata" not in self._owner._cache and self._owner._root is None:
            return f"<XNATSubListing {self.xpath} (not loaded)>"
        return f"<XNATSubListing {self.xpath}: {len(self)} items>"
