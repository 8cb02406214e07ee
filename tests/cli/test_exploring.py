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
