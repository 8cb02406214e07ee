"""Hand-written behaviour attached to generated classes, chosen by xsi type.

The schema says which fields a data type has; what it can *do* (download, share,
create_assessor, ...) is written by hand in mixin classes and registered here::

    from xnat.classes.registry import behaviour

    @behaviour("xnat:imageSessionData")
    class ImageSessionBehaviour:
        def download_dir(self, target_dir): ...

The class factory puts the mixins registered for a type first in that type's bases, so
the type and every subclass of it (``xnat:mrSessionData``, ...) get the behaviour, and a
hand-written attribute wins over a schema field of the same name.

The modules that hold the built-in mixins are listed in one place, :data:`BEHAVIOUR_MODULES`;
:func:`load_behaviours` imports them (the factory calls it before building classes), so no
mixin depends on which other module happened to be imported first. The list names modules
instead of importing them: the registry sits below the layers that hold mixins.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BEHAVIOUR_MODULES", "behaviour", "behaviours_for", "load_behaviours", "registered_types", "unregister"]

#: Every module whose import registers built-in mixins, in registration order (the order
#: of mixins registered for the same xsi type is their order among the class's bases).
BEHAVIOUR_MODULES: tuple[str, ...] = (
    "xnat.services.behaviour",
    "xnat.bids.behaviour",
    "xnat.classes.behaviour.custom",
    "xnat.classes.behaviour.experiment",
    "xnat.classes.behaviour.project",
    "xnat.classes.behaviour.resource",
    "xnat.classes.behaviour.scan",
    "xnat.classes.behaviour.subject",
)

_T = TypeVar("_T", bound=type)
_LOCK = threading.Lock()
_BEHAVIOURS: dict[str, list[type]] = {}


def behaviour(xsi_type: str) -> Callable[[_T], _T]:
    """Class decorator: register the decorated mixin for ``xsi_type`` (e.g. ``xnat:projectData``).

    Registering the same class twice for a type has no further effect. Classes built after
    registration pick the mixin up; sessions already connected keep their classes.
    """
    if not isinstance(xsi_type, str) or not xsi_type:
        raise TypeError("behaviour() needs an xsi type such as 'xnat:projectData'")

    def register(mixin: _T) -> _T:
        if not isinstance(mixin, type):
            raise TypeError(f"behaviour({xsi_type!r}) decorates classes, not {mixin!r}")
        with _LOCK:
            mixins = _BEHAVIOURS.setdefault(xsi_type, [])
            if mixin not in mixins:
                mixins.append(mixin)
        return mixin

    return register


def behaviours_for(xsi_type: str) -> tuple[type, ...]:
    """The mixins registered for exactly ``xsi_type``, in registration order."""
    with _LOCK:
        return tuple(_BEHAVIOURS.get(xsi_type, ()))


def registered_types() -> tuple[str, ...]:
    """Every xsi type that has at least one mixin."""
    with _LOCK:
        return tuple(_BEHAVIOURS)


def unregister(xsi_type: str, mixin: type) -> None:
    """Remove a mixin (mainly for tests); unknown pairs are ignored."""
    with _LOCK:
        mixins = _BEHAVIOURS.get(xsi_type, [])
        if mixin in mixins:
            mixins.remove(mixin)
        if not mixins:
            _BEHAVIOURS.pop(xsi_type, None)


def load_behaviours() -> None:
    """Import every module of :data:`BEHAVIOUR_MODULES` (once; later calls cost a dict lookup)."""
    for name in BEHAVIOUR_MODULES:
        importlib.import_module(name)
