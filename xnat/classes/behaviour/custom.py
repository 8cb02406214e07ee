"""Custom variables: ``subject.custom_variables['group']['name']``.

Values live in the object's ``fields`` (XNAT's ``fields/field``, names lower-cased). When
the project defines them (its ``studyProtocol`` for the object's data type, with
``definitions/definition`` groups of ``fields/field`` entries that give a ``datatype``
and optional ``possibleValues``), values are typed (integer, float, boolean, date) and
checked against the allowed values before anything is sent. Without definitions there
is one untyped group, ``default``, over every field.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ...exceptions import XNATKeyError, XNATValueError
from ..properties import convert_from_text, convert_to_text
from ..registry import behaviour

__all__ = ["CustomVariableDef", "CustomVariableGroup", "CustomVariableMap", "definitions_for"]

_XSD_TYPES = {"integer": "xs:integer", "int": "xs:integer", "float": "xs:float", "double": "xs:float",
              "boolean": "xs:boolean", "date": "xs:date", "string": "xs:string"}


@dataclass(frozen=True)
class CustomVariableDef:
    """One defined custom variable: its name, XSD type and allowed values (empty: any)."""

    name: str
    xsd_type: str = "xs:string"
    options: tuple[str, ...] = field(default_factory=tuple)


def _children(item: dict[str, Any], path: str) -> list[dict[str, Any]]:
    for child in item.get("children", []):
        if child.get("field") == path:
            return list(child.get("items", []))
    return []


def definitions_for(owner: Any) -> dict[str, dict[str, CustomVariableDef]] | None:
    """The project's custom variable groups for ``owner``'s data type, or None when undefined."""
    project = _project_of(owner)
    if project is None:
        return None
    types = {getattr(c, "__xsi_type__", "") for c in type(owner).__mro__} - {""}
    groups: dict[str, dict[str, CustomVariableDef]] = {}
    for protocol in _children(project.fulldata, "studyProtocol"):
        fields = protocol.get("data_fields", {})
        if (fields.get("data-type") or fields.get("dataType")) not in types:
            continue
        for definition in _children(protocol, "definitions/definition"):
            group = str(definition.get("data_fields", {}).get("ID") or "default")
            variables = groups.setdefault(group, {})
            for entry in _children(definition, "fields/field"):
                data = entry.get("data_fields", {})
                name = str(data.get("name", "")).lower()
                if not name:
                    continue
                options = tuple(str(p.get("data_fields", {}).get("possibleValue", ""))
                                for p in _children(entry, "possibleValues/possibleValue"))
                variables[name] = CustomVariableDef(name, _XSD_TYPES.get(str(data.get("datatype", "string")).lower(),
                                                                         "xs:string"), options)
    return groups or None


def _project_of(owner: Any) -> Any:
    if getattr(type(owner), "SECONDARY_LOOKUP_FIELD", None) == "name":  # the project itself
        return owner
    project_id = owner._get_field("project")
    if not project_id:
        return None
    return owner._session().create_object(f"/data/projects/{project_id}", type_="xnat:projectData")


class CustomVariableGroup(MutableMapping[str, Any]):
    """One group of custom variables over the owner's ``fields``."""

    def __init__(self, owner: Any, name: str, definitions: dict[str, CustomVariableDef] | None = None) -> None:
        self._owner = owner
        self.name = name
        self._definitions = definitions

    def _definition(self, key: str) -> CustomVariableDef | None:
        if self._definitions is None:
            return None
        found = self._definitions.get(key.lower()) if isinstance(key, str) else None
        if found is None:
            raise XNATKeyError(f"custom variable group {self.name!r} defines no {key!r} "
                               f"(it defines: {', '.join(self._definitions) or 'nothing'})")
        return found

    def __getitem__(self, key: str) -> Any:
        definition = self._definition(key)
        try:
            text = self._owner.fields[key]
        except KeyError:
            if definition is not None:
                return None
            raise
        if definition is None or text in (None, ""):
            return text
        try:
            return convert_from_text(definition.xsd_type, text)
        except ValueError:
            return text  # a value stored before the definition changed: keep it readable

    def __setitem__(self, key: str, value: Any) -> None:
        definition = self._definition(key)
        if definition is None:
            self._owner.fields[key] = value
            return
        try:
            text = convert_to_text(definition.xsd_type, value)
        except ValueError as exc:
            raise XNATValueError(f"custom variable {key!r} ({definition.xsd_type}): {exc}") from None
        if definition.options and text not in definition.options:
            raise XNATValueError(f"custom variable {key!r}: {text!r} is not one of the allowed values "
                                 f"({', '.join(repr(o) for o in definition.options)})")
        self._owner.fields[definition.name] = text

    def __delitem__(self, key: str) -> None:
        self._definition(key)
        del self._owner.fields[key]

    def _names(self) -> list[str]:
        return list(self._definitions) if self._definitions is not None else list(self._owner.fields)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _ipython_key_completions_(self) -> list[str]:
        return list(self._definitions or ())

    def __repr__(self) -> str:
        return f"<CustomVariableGroup {self.name}>"


class CustomVariableMap(MutableMapping[str, CustomVariableGroup]):
    """The custom variable groups of an object (the project's definitions, else ``default``)."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner
        self._groups = definitions_for(owner)

    def __getitem__(self, key: str) -> CustomVariableGroup:
        if self._groups is None:
            if key != "default":
                raise XNATKeyError(f"no custom variable group {key!r}: the project defines none (use 'default')")
            return CustomVariableGroup(self._owner, key)
        if key not in self._groups:
            raise XNATKeyError(f"no custom variable group {key!r} (groups: {', '.join(self._groups)})")
        return CustomVariableGroup(self._owner, key, self._groups[key])

    def __setitem__(self, key: str, value: Any) -> None:
        raise XNATKeyError("custom variable groups are defined on the server, not set here")

    def __delitem__(self, key: str) -> None:
        raise XNATKeyError("custom variable groups are defined on the server, not deleted here")

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups or ["default"])

    def __len__(self) -> int:
        return len(self._groups or ["default"])

    def _ipython_key_completions_(self) -> list[str]:
        return list(self)

    def __repr__(self) -> str:
        return f"<CustomVariableMap ({', '.join(self)})>"


class _CustomVariables:
    __slots__ = ()  # the objects' state lives in XNATBaseObject's slots

    @property
    def custom_variables(self) -> CustomVariableMap:
        """The object's custom variables by group: ``custom_variables['group']['name']``."""
        return CustomVariableMap(self)


for _xsi in ("xnat:projectData", "xnat:subjectData", "xnat:experimentData"):
    behaviour(_xsi)(type(f"CustomVariables_{_xsi.split(':')[1]}", (_CustomVariables,), {"__slots__": ()}))

