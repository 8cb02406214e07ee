"""xnatpy's documented path ``xnat.map``: an alias of :mod:`xnat.services.mapping`."""

from .services.mapping import FilterFunctions, MappedFunctionFailed, MappingLevel, MappingLog

__all__ = ["FilterFunctions", "MappedFunctionFailed", "MappingLevel", "MappingLog"]
