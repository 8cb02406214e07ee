"""xnatpy's documented path ``xnat.xnatbases``: the hand-written bases of generated classes.

In xnatpy each generated class (``session.classes.MrSessionData``) derives from one of
these. Here the hand-written behaviour lives in mixins registered by xsi type
(:mod:`xnat.classes.behaviour`, :mod:`xnat.services.behaviour`); each class below gathers
the mixins of its type and of the types it extends over :class:`~xnat.core.XNATBaseObject`, so its documented
members are where xnatpy documents them, and answers ``isinstance`` / ``issubclass``
for every generated class of that type or a type derived from it::

    isinstance(session.experiments["E1"], xnat.xnatbases.ImageSessionData)  # True for an MR session

A generated class carries the type's mixins, not these classes themselves: behaviour has
one home, and a class of an xsi type is recognised by the mixin it carries.
"""

from __future__ import annotations

from typing import Any

from .classes.base import XNATBaseObject
from .classes.behaviour.experiment import (
    DerivedBehaviour,
    ExperimentBehaviour,
    ImageSessionBehaviour,
    SubjectAssessorBehaviour,
)
from .classes.behaviour.project import ProjectBehaviour
from .classes.behaviour.resource import ResourceBehaviour
from .classes.behaviour.scan import ImageScanBehaviour
from .classes.behaviour.subject import SubjectBehaviour
from .classes.properties import SearchField
from .services.behaviour import ProjectUsersBehaviour, ScanDicomBehaviour

__all__ = [
    "AbstractResource",
    "DerivedData",
    "ExperimentData",
    "ImageScanData",
    "ImageSessionData",
    "ProjectData",
    "SubjectAssessorData",
    "SubjectData",
]


# _HOST_NOTE: for the type checker the mixins derive from the host protocol of
# xnat.classes.behaviour.host, which declares ``id`` read-only and a narrower lookup field
# than XNATBaseObject; generated classes combine them the same way at run time.


class _RecognisedByMixin(type):
    """A class that counts every class carrying its ``__marker__`` mixin as a subclass."""

    __marker__: type

    def __instancecheck__(cls, instance: Any) -> bool:
        return cls.__subclasscheck__(type(instance))

    def __subclasscheck__(cls, subclass: Any) -> bool:
        if type.__subclasscheck__(cls, subclass):
            return True
        return isinstance(subclass, type) and cls.__marker__ in subclass.__mro__


class ProjectData(ProjectBehaviour, ProjectUsersBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """A project (``xnat:projectData``)."""

    __marker__ = ProjectBehaviour


class SubjectData(SubjectBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """A subject (``xnat:subjectData``)."""

    __marker__ = SubjectBehaviour
    label = SearchField("xnat:subjectData", "label")


class ExperimentData(ExperimentBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """Any experiment (``xnat:experimentData``)."""

    __marker__ = ExperimentBehaviour
    label = SearchField("xnat:experimentData", "label")


class SubjectAssessorData(SubjectAssessorBehaviour, ExperimentBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """An experiment about a subject (``xnat:subjectAssessorData``)."""

    __marker__ = SubjectAssessorBehaviour


class ImageSessionData(  # type: ignore[misc,override]  # see _HOST_NOTE
    ImageSessionBehaviour, SubjectAssessorBehaviour, ExperimentBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin
):
    """An imaging session (``xnat:imageSessionData``)."""

    __marker__ = ImageSessionBehaviour


class DerivedData(DerivedBehaviour, ExperimentBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """A derived-data experiment such as an image assessor (``xnat:derivedData``)."""

    __marker__ = DerivedBehaviour


class ImageScanData(ImageScanBehaviour, ScanDicomBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """A scan of an imaging session (``xnat:imageScanData``)."""

    __marker__ = ImageScanBehaviour


class AbstractResource(ResourceBehaviour, XNATBaseObject, metaclass=_RecognisedByMixin):  # type: ignore[misc,override]  # see _HOST_NOTE
    """A resource: a catalogued folder of files (``xnat:abstractResource``)."""

    __marker__ = ResourceBehaviour

    @property
    def file_count(self) -> Any:
        """The number of files in the resource, as the server lists it."""
        return self._get_field("file_count")

    @property
    def file_size(self) -> Any:
        """The total size of the resource's files in bytes, as the server lists it."""
        return self._get_field("file_size")
