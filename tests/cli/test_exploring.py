"""Exploring in IPython/Jupyter (issue 19 item 6): what completes, what a repr says."""

from __future__ import annotations

import xnat


def test_session_classes_completes_in_ipython(served):
    # IPython's default ("limited") completion reads plain attributes but never runs a
    # property, so session.classes.<TAB> completes only when classes is a plain attribute.
    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        assert not isinstance(getattr(type(session), "classes", None), property)
        assert "classes" in vars(session)
        assert {"SubjectData", "MrSessionData", "FileData"} <= set(dir(session.classes))
        assert session.classes.FileData is not None  # still joined to the namespace on assignment


def test_an_unloaded_listing_says_how_to_load_it(served):
    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        subjects = session.projects["DEMO"].subjects
        assert repr(subjects) == ("<XNATListing /data/projects/DEMO/subjects "
                                  "(not loaded: print() it, len() or a loop fetches it)>")
        assert "print() it, len() or a loop fetches it" in subjects._repr_html_()
        assert len(subjects) > 0
        assert "not loaded" not in repr(subjects) and "DEMO_001" in repr(subjects)


def test_listing_keys_complete_once_loaded_and_never_ask_the_server(served):
    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        projects = session.projects
        assert projects._ipython_key_completions_() == []
        assert projects.loaded_size is None  # completing made no request
        assert len(projects) >= 1
        assert "DEMO" in projects._ipython_key_completions_()
        assert session.projects is projects  # the same listing on every read


def test_session_listings_are_read_only_attributes(served):
    import pytest

    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        for name in ("projects", "subjects", "experiments"):
            assert not isinstance(getattr(type(session), name), property)
            with pytest.raises(AttributeError, match=f"session.{name} is read-only"):
                setattr(session, name, None)
        assert "Every project visible to the user" in type(session).projects.__doc__


def test_ipython_completes_session_projects_keys_and_attributes(served):
    import pytest

    pytest.importorskip("IPython")
    from IPython.core.completer import provisionalcompleter
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()

    def complete(text):
        with provisionalcompleter():
            return [c.text for c in shell.Completer.completions(text, len(text))]

    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        shell.user_ns["session"] = session
        try:
            assert "DEMO" not in complete("session.projects['")
            assert session.projects.loaded_size is None  # completion asked the server nothing
            assert "filter" in complete("session.projects.fil")
            len(session.projects)
            assert "DEMO" in complete("session.projects['")
            # A child listing through a name: project.subjects is no property either.
            shell.user_ns["project"] = session.projects["DEMO"]
            assert "filter" in complete("project.subjects.fil")
            assert "DEMO_001" not in complete("project.subjects['")
            len(session.projects["DEMO"].subjects)
            assert "DEMO_001" in complete("project.subjects['")
        finally:
            shell.user_ns.pop("session", None)
            shell.user_ns.pop("project", None)


def test_child_listings_are_read_only_attributes_made_once(served):
    import pytest

    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        project = session.projects["DEMO"]
        experiment = project.subjects["DEMO_001"].experiments["DEMO_001_MR1"]
        scans = experiment.scans
        assert scans is experiment.scans and scans.loaded_size is None  # made once, no request
        for obj, name in ((project, "subjects"), (project, "experiments"), (experiment, "scans"),
                          (experiment, "resources"), (scans["2"], "files")):
            assert not isinstance(getattr(type(obj), name), property)
            with pytest.raises(AttributeError, match=f"{name} is read-only"):
                setattr(obj, name, None)
        assert "scans, keyed by scan ID or type" in type(experiment).scans.__doc__
