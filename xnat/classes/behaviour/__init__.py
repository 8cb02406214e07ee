"""Hand-written behaviour of XNAT data types, registered by xsi type (see
:mod:`xnat.classes.registry`): one module per level of the hierarchy.

* :mod:`.project`, :mod:`.subject`, :mod:`.experiment` (experiments, image sessions,
  assessors), :mod:`.scan`, :mod:`.resource`: listings, creation, share, uploads and
  downloads of each level;
* :mod:`.file`: ``FileData``, the hand-written class of a resource's files;
* :mod:`.custom`: custom variables (``custom_variables['group']['name']``);
* :mod:`.common`: helpers the mixins share (child listings, download jobs and layouts);
  :mod:`.zipdir`: many small files fetched as one streamed zip, each then verified;
* :mod:`.host`: what the mixins may use of the object they are mixed into, for the
  type checker (no run-time effect).

Importing this package registers every mixin; the class factory imports it before
building a session's classes.
"""

from . import custom, experiment, file, project, resource, scan, subject  # noqa: F401  (registration)
