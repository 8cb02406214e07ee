"""``session.plugins``: the XNAT plugins the server runs (``/xapi/plugins``), as a mapping.

One request reads every plugin's settings (``/xapi/plugins`` answers a map id ->
settings), cached until :meth:`Plugins.clearcache`; ``len()`` works before anything has
been read (xnatpy's raised TypeError there).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from ..exceptions import XNATKeyError

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


class Plugins(Mapping[str, PluginConfiguration]):
    """Plugin id -> :class:`PluginConfiguration`."""

    def __init__(self, xnat_session: Any) -> None:
        self.xnat_session = xnat_session
        self._data: dict[str, PluginConfiguration] | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never a request in a repr
        data = self._data
        return f"<Plugins {sorted(data)}>" if data is not None else "<Plugins (not read yet)>"

    @property
    def data(self) -> dict[str, PluginConfiguration]:
        with self._lock:
            data = self._data
        if data is None:
            raw = self.xnat_session.get_json("/xapi/plugins")
            data = {str(key): PluginConfiguration(value) for key, value in (raw or {}).items()}
            with self._lock:
                self._data = data
        return data

    def clearcache(self) -> None:
        with self._lock:
            self._data = None

    def __getitem__(self, plugin_id: str) -> PluginConfiguration:
        try:
            return self.data[plugin_id]
        except KeyError:
            raise XNATKeyError(f"the server has no plugin {plugin_id!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)
