"""The REST resources of the embedded XNAT server, one module per area.

Handlers parse a request, call the backend (:mod:`xnat.testing.backend`: storage and
every access decision) and render the answer; they hold no SQL.

* ``base``           the request context (``Ctx``), HTTP errors, small response helpers
* ``deps``           the sibling modules handlers build on (datatypes, representations, filestore)
* ``site``           build info, site configuration, version, schema files
* ``session``        JSESSION, /data/auth, /data/services/auth, alias tokens
* ``users``          /data/users, /xapi/users
* ``config``         /data/config and /data/projects/P/config: versioned configuration documents
* ``projects``       projects, accessibility, settings, project users
* ``archive``        the hierarchy walk and the subject/experiment/scan listings
* ``archive_write``  create/update/relabel/share/delete
* ``status``         an experiment's status: .../status, activate/quarantine flags, the quarantine code
* ``resources``      resource catalogues, recursive delete
* ``files``          uploads, downloads, file listings, zip/tar.gz
* ``session_dir``    /DIR and /XAR: a session's folder on disk, listed, zipped, or as an XNAT archive
* ``file_paths``     where a file appears: ``locator=`` of listings, ``structure=`` of archive paths
* ``items``          item JSON/XML trees
* ``listing``        columns, filters, sorting, paging of tables
* ``child_columns``  listing columns into child items (custom variables, provenance steps), joined
* ``writes``         reading xsiType / xpath=value / XML bodies
* ``lookup``         ID/label resolution; access verdicts answered as 404/403
* ``prearchive``     /data/prearchive: listings, one session, its scans and files
* ``importer``       /data/services/import: DICOM into the prearchive or the archive
* ``inbox``          import-handler=inbox: a session from the site's inbox folder; /xapi/dicom/{id}
* ``xar``            import-handler=XAR: a session, or scans, reconstructions or assessors of one, with files
* ``user_cache``     /data/user/cache/resources: each user's own upload space (import ``src=``)
* ``services``       archive, prearchive move/delete/rebuild, DICOM dump, catalog refresh, scanners
* ``pipelines``      what the pipeline engine answers: a project's archive_spec, workflows (none run here)
* ``search``         /data/search/elements: searchable types and their fields
* ``search_run``     POST /data/search: an ``xdat:bundle`` run over the archive
* ``search_saved``   /data/search/saved: stored searches, their bundles and results
* ``search_display`` the value of one of XNAT's display fields (GENDER, MR_COUNT...) for a search row
"""
