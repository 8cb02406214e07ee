"""An embedded XNAT server: the archive REST API of XNAT 1.8/1.9, offline.

It behaves, as far as a client can see, like a real XNAT: same URLs, status codes,
JSON/XML/CSV shapes and quirks. Use it to test scripts without a real server::

    from xnat.testing import XNATServer

    with XNATServer(users=["admin:admin:admin"]) as server:
        session = xnat.connect(server.url, user="admin", password="admin")

Rooms:

* ``app``            the WSGI application: routing, request handling, errors
* ``handlers/``      the REST resources, one module per area (site, auth, archive, files, ...)
* ``store``          SQLite metadata store (transactions; safe under concurrent requests)
* ``auth``           users, passwords, JSESSIONID sessions, alias tokens, project roles
* ``datatypes``      what the server knows from its schema set (types, fields, inheritance)
* ``representations`` table JSON/CSV/XML and item JSON/XML writers, shaped as XNAT writes them
* ``filestore``      files on disk in an archive tree: safe paths, atomic writes, archives
* ``runner``         ``XNATServer``: a threaded HTTP server around the app
* ``adapter``        a requests transport adapter that runs the app in-process
* ``pytest_plugin``  the ``xnat_server`` fixture

Needs the ``server`` extra (werkzeug): ``pip install "xnat[server]"``.
"""
