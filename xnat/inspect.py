"""xnatpy's documented path ``xnat.inspect``: an alias of :mod:`xnat.services.inspect`."""

from .services.inspect import Inspect

__all__ = ["Inspect"]
