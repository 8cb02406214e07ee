"""The embedded server's backend: every SQL statement and every access decision.

Handlers (:mod:`xnat.testing.handlers`) parse a request, call the backend and render
the answer, as moto's ``responses.py`` call its ``models.py``. The backend is a set of
rooms over one :class:`~xnat.testing.store.Store` (the SQLite pool and transactions):

* ``access``     who may read, see, edit, own, share or delete: the one place it is decided
* ``projects``   projects, aliases, settings, member roles
* ``archive``    subjects, experiments, scans, reconstructions, shares, custom variables, recursive delete
* ``resources``  resource catalogues and the metadata of their files
* ``search``     rows and counts for searches
* ``saved``      saved searches (``xdat:stored_search``) and who may use them
* ``config``     the configuration service's versioned documents (``/data/config``)
* ``settings``   site settings set through ``/xapi/siteConfig``, kept across restarts
* ``inbox``      DICOM inbox import requests (``/xapi/dicom/{id}``)
* ``populate``   bulk creation of test data

Users, sessions and tokens live in :mod:`xnat.testing.auth`; the prearchive in
:mod:`xnat.testing.prearchive_store`. Backend methods raise no HTTP errors: they return
rows, values or a :class:`~.access.Verdict`, and the handlers choose the answer.
"""

from __future__ import annotations

from ..store import Store
from .access import Access, Verdict
from .archive import Archive, ShareConflict
from .config import Configs
from .inbox import InboxRequests
from .projects import Projects
from .resources import Resources
from .saved import SavedSearches
from .search import SearchRows
from .settings import SiteSettings

__all__ = ["Access", "Archive", "Backend", "Configs", "InboxRequests", "Projects", "Resources", "SavedSearches",
           "SearchRows", "ShareConflict", "SiteSettings", "Verdict"]


class Backend:
    """The rooms of the backend over one store."""

    def __init__(self, store: Store, site_id: str) -> None:
        self.store = store
        #: access decisions (every route asks here)
        self.access = Access(store)
        self.projects = Projects(store)
        self.archive = Archive(store, site_id)
        self.resources = Resources(store)
        self.search = SearchRows(store)
        #: saved searches (/data/search/saved)
        self.saved_searches = SavedSearches(store)
        #: the configuration service (/data/config, /data/projects/P/config)
        self.configs = Configs(store)
        #: site settings (/xapi/siteConfig)
        self.settings = SiteSettings(store)
        #: DICOM inbox import requests (/xapi/dicom/{id})
        self.inbox = InboxRequests(store)
