"""``session.plugins``: the XNAT plugins the server runs (``/xapi/plugins``), as a mapping.

One request reads every plugin's settings (``/xapi/plugins`` answers a map id ->
settings), cached until :meth:`Plugins.clearcache`; ``len()`` works before anything has
been read (xnatpy's raised TypeError there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .cached import CachedMapping

__all__ = ["PluginConfiguration", "Plugins"]


class PluginConfiguration:
    """One plugin's settings."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = dict(data)

    def __repr__(self) -> str:
        return f"<Plugin {self.id} {self.version}>"

    @property
    def id(self) -> str:
        return str(self.data.get("id", ""))

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def version(self) -> str:
        return str(self.data.get("version", ""))

    @property
    def plugin_class(self) -> str:
        return str(self.data.get("pluginClass", ""))

    @property
    def log_file(self) -> str:
        return str(self.data.get("logConfigurationFile", ""))

    @property
    def bean_name(self) -> str:
        return str(self.data.get("beanName", ""))


class Plugins(CachedMapping[PluginConfiguration]):
    """Plugin id -> :class:`PluginConfiguration`."""

    def __repr__(self) -> str:  # never a request in a repr
        data = self._data
        return f"<Plugins {sorted(data)}>" if data is not None else "<Plugins (not read yet)>"

    def _read(self) -> dict[str, PluginConfiguration]:
        raw = self.xnat_session.get_json("/xapi/plugins")
        return {str(key): PluginConfiguration(value) for key, value in (raw or {}).items()}

    def _missing(self, key: str) -> str:
        return f"the server has no plugin {key!r}"
