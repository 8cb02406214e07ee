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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["behaviour", "behaviours_for", "registered_types", "unregister"]

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
