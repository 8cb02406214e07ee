"""xnat: a fast, schema-driven Python client for XNAT.

``xnat.connect(server, user, password)`` logs in, reads the server's data-type schemas,
builds a Python class for each type and returns a session whose listings map one-to-one
onto XNAT's REST hierarchy::

    with xnat.connect("https://xnat.example.org", user="me") as session:
        for project in session.projects.values():
            print(project.id, project.name)

``xnat.testing`` holds an embedded XNAT server for offline use and testing.
"""

__version__ = "0.9.0.dev0"
