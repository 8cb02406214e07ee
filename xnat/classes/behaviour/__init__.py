"""Hand-written behaviour of XNAT data types, registered by xsi type (see
:mod:`xnat.classes.registry`): one module per level of the hierarchy.

Importing this package registers every mixin; the class factory imports it before
building a session's classes.
"""

from . import custom, experiment, file, project, resource, scan, subject  # noqa: F401  (registration)
