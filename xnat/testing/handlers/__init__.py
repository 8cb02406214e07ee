"""The REST resources of the embedded XNAT server, one module per area.

* ``site``           build info, version, schema files
* ``session``        JSESSION, /data/auth, /data/services/auth, alias tokens
* ``users``          /data/users, /xapi/users
* ``projects``       projects, accessibility, project users
* ``archive``        the hierarchy walk and the subject/experiment/scan listings
* ``archive_write``  create/update/relabel/share/delete
* ``resources``      resource catalogues, recursive delete
* ``files``          uploads, downloads, file listings, zip/tar.gz
* ``items``          item JSON/XML trees
* ``listing``        columns, filters, sorting, paging of tables
* ``writes``         reading xsiType / xpath=value / XML bodies
* ``lookup``         ID/label resolution and access checks
* ``populate``       bulk creation straight into the store
"""
