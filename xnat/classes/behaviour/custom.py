"""Custom variables: ``subject.custom_variables['group']['weight']``, typed by the
project's definitions when the server has them, else plain text over ``fields``."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from ...exceptions import XNATKeyError
from ..registry import behaviour

__all__ = ["CustomVariableMap", "CustomVariableGroup"]


class CustomVariableGroup(MutableMapping[str, Any]):
    """One group of custom variables, over the owner's ``fields`` listing."""

    def __init__(self, owner: Any, name: str, definitions: dict[str, str] | None = None) -> None:
        self._owner = owner
        self.name = name
        self._definitions = definitions

    def _fields(self) -> Any:
        return self._owner.fields

    def _names(self) -> list[str]:
        if self._definitions is not None:
            return list(self._definitions)
        return list(self._fields())

    def __getitem__(self, key: str) -> Any:
        if self._definitions is not None and key not in self._definitions:
            raise XNATKeyError(f"custom variable group {self.name!r} defines no {key!r}")
        try:
            return self._fields()[key]
        except KeyError:
            if self._definitions is not None:
                return None
            raise

    def __setitem__(self, key: str, value: Any) -> None:
        if self._definitions is not None and key not in self._definitions:
            raise XNATKeyError(f"custom variable group {self.name!r} defines no {key!r}")
        self._fields()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._fields()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return f"<CustomVariableGroup {self.name}>"


class CustomVariableMap(MutableMapping[str, CustomVariableGroup]):
    """Groups of custom variables; without server definitions there is one group, ``default``."""

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    def __getitem__(self, key: str) -> CustomVariableGroup:
        if key != "default":
            raise XNATKeyError(f"no custom variable group {key!r} (groups: default)")
        return CustomVariableGroup(self._owner, key)

    def __setitem__(self, key: str, value: Any) -> None:
        raise XNATKeyError("custom variable groups are defined on the server, not set here")

    def __delitem__(self, key: str) -> None:
        raise XNATKeyError("custom variable groups are defined on the server, not deleted here")

    def __iter__(self) -> Iterator[str]:
        return iter(["default"])

    def __len__(self) -> int:
        return 1

    def __repr__(self) -> str:
        return "<CustomVariableMap (default)>"


class _CustomVariables:
    @property
    def custom_variables(self) -> CustomVariableMap:
        """The object's custom variables by group (``['default'][name]``)."""
        return CustomVariableMap(self)


for _xsi in ("xnat:projectData", "xnat:subjectData", "xnat:experimentData"):
    behaviour(_xsi)(type(f"CustomVariables_{_xsi.split(':')[1]}", (_CustomVariables,), {}))
