"""``export_bids`` on projects, subjects and image sessions (see :mod:`xnat.bids.export`).

Importing this module registers the mixin; :data:`xnat.classes.registry.BEHAVIOUR_MODULES`
lists it with the other behaviour modules. The export itself is imported when called, so
that building classes does not load it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..classes.registry import behaviour

__all__ = ["ExportBidsBehaviour"]


class ExportBidsBehaviour:
    """``export_bids(target, config, ...)`` below a project, a subject or one image session."""

    __slots__ = ()  # a mixin of XNATBaseObject: no dict per object

    def export_bids(self, target: str | os.PathLike[str], config: Any, participant_fields: Sequence[str] = (),
                    dates: bool = False, executor: Any = "threads", workers: int | None = 4,
                    progress: bool | None = None, max_requests: int | None = None, prune: bool = False) -> Any:
        """Export into the BIDS dataset at ``target`` with a dcm2bids 3 ``config`` (path or dict);
        returns an :class:`~xnat.bids.export.ExportReport`. See :func:`xnat.bids.export.export_bids`."""
        from .export import export_bids

        return export_bids(self, target, config, participant_fields, dates, executor, workers, progress,
                           max_requests, prune=prune)


for _xsi_type in ("xnat:projectData", "xnat:subjectData", "xnat:imageSessionData"):
    behaviour(_xsi_type)(ExportBidsBehaviour)
