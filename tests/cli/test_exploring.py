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
