"""xnatpy's documented path ``xnat.prearchive``: an alias of :mod:`xnat.services.prearchive`."""

from .services.prearchive import Prearchive, PrearchiveFile, PrearchiveResource, PrearchiveScan, PrearchiveSession

__all__ = ["Prearchive", "PrearchiveFile", "PrearchiveResource", "PrearchiveScan", "PrearchiveSession"]
