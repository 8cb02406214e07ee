"""xnatpy's documented path ``xnat.core``: an alias of the object layer (:mod:`xnat.classes`).

``XNATBaseObject`` is the base of every generated class; the listings and custom-variable
maps are those objects hand out.
"""

from .classes.base import XNATBaseObject
from .classes.behaviour.custom import CustomVariableDef, CustomVariableGroup, CustomVariableMap
from .classes.listing import XNATListing
from .classes.mount import DataDirType
from .classes.sublisting import XNATSimpleListing, XNATSubListing

__all__ = [
    "CustomVariableDef",
    "CustomVariableGroup",
    "CustomVariableMap",
    "DataDirType",
    "XNATBaseObject",
    "XNATListing",
    "XNATSimpleListing",
    "XNATSubListing",
]
