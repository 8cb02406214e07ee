"""Compatibility with other XNAT clients: pyxnat's API on this library's core.

``from xnat.compat.pyxnat import Interface`` instead of ``from pyxnat import Interface``
runs a pyxnat script on our session, listings, transfers and search. xnatpy's own names
need no layer: this library keeps them at their own paths.

Modules (one concept each):

* ``pyxnat``      the front door: pyxnat's public names, re-exported
* ``interface``   ``Interface``: pyxnat's arguments and config file, raw ``get/put/post/delete``
* ``xnatpass``    ``~/.xnatPass``, read when ``Interface()`` is given nothing
* ``select``      ``interface.select``: chains from the top, path strings, data-type searches
* ``paths``       the levels of the archive tree and pyxnat's path strings (``//level`` too)
* ``objects``     selected objects (``EObject``, per level) and lazy collections (``CObject``)
* ``subjects``    the subjects a constraint tree selects, for ``collection.where([...])``
* ``projects``    a project's users and roles, codes, accessibility, aliases, pipelines
* ``provenance``  the processing steps of assessors and reconstructions (``obj.provenance``)
* ``attributes``  ``obj.attrs``: get/set fields by xpath or short name
* ``transfers``   file and resource downloads and uploads, through our verified transfers
* ``search``      pyxnat's constraint lists and RPN strings run as our search; saved searches and templates read back
* ``saved``       ``manage.search``: saved searches and templates on /data/search/saved
* ``jsontable``   ``JsonTable``, the table search results and arrays come back as
* ``manage``      ``interface.inspect``, ``interface.manage`` (schemas, project), ``interface.array``
* ``users``       ``manage.users``: the server's users
* ``prearchive``  ``manage.prearchive``: sessions in the prearchive, by pyxnat's triples
* ``errors``      pyxnat's exception names as aliases over ours
"""
