"""The services layer: what XNAT offers beside the archive hierarchy, one concept per module.

======================================  ==================================================
module                                  what it holds
======================================  ==================================================
:mod:`xnat.services.services`           ``session.services``: import, DICOM dump, alias tokens, catalog refresh
:mod:`xnat.services.inbox`              a DICOM inbox import request (``/xapi/dicom/{id}``) and its status
:mod:`xnat.services.prearchive`         ``session.prearchive``: sessions received but not archived
:mod:`xnat.services.dicom`              the server's DICOM dump; DICOM files read with pydicom
:mod:`xnat.services.preview`            ``scan.preview()``, ``experiment.preview()``: pictures from one DICOM file each
:mod:`xnat.services.thumbnail`          DICOM pixels to a windowed 8-bit picture, a thumbnail PNG, a contact sheet
:mod:`xnat.services.paths`              an object's ``/archive/projects/...`` path, as services want it
:mod:`xnat.services.users`              ``session.users`` and ``project.users``
:mod:`xnat.services.plugins`            ``session.plugins``: the server's plugins
:mod:`xnat.services.cached`             a mapping read in one request and cached (users, plugins)
:mod:`xnat.services.inspect`            ``session.inspect``: searchable data types and their fields
:mod:`xnat.services.mapping`            bulk work over the tree: ``map``, ``search``, ``batch_download``
:mod:`xnat.services.levels`             ``MappingLevel``: the archive levels a map visits
:mod:`xnat.services.executors`          a map's calls on threads, processes, an Executor or a Dask cluster
:mod:`xnat.services.throttle`           a map's bound on requests in flight across workers; backoff on 429/503
:mod:`xnat.services.mapresults`         a map's results (``to_pandas()``) and its progress bar
:mod:`xnat.services.recipe`             a pickled session: the recipe a worker process rebuilds it from
:mod:`xnat.services.jobcredential`      a map's objects pickled with the job's token; a fresh one when refused
:mod:`xnat.services.search`             the query builder for ``/data/search``: fields, constraints, ``Query``
:mod:`xnat.services.search_classes`     search wired onto generated classes: ``Class.query()``, display fields
:mod:`xnat.services.behaviour`          the mixins this layer adds to generated classes, by xsi type
:mod:`xnat.services.session_mixin`      what this layer adds to the session (``session.services``, ...)
======================================  ==================================================

Nothing here imports the session: every helper is given the session it works for.
xnatpy's documented paths ``xnat.prearchive``, ``xnat.users``, ``xnat.inspect`` and
``xnat.search`` are thin aliases over the modules here.
"""

from .inbox import DicomBoxImportRequest
from .services import Services, TokenResult, guess_content_type

__all__ = ["DicomBoxImportRequest", "Services", "TokenResult", "guess_content_type"]
