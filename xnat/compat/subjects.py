"""The subjects a pyxnat constraint tree selects, for ``collection.where([...])``.

pyxnat filters a collection by its objects' *subjects*: ``select("//experiments").where(
[("xnat:mrSessionData/AGE", ">", "30"), "AND"])`` keeps the experiments whose subject has
such a session. As pyxnat does, each ``(field, op, value)`` constraint is one search of its
own data type for the ``SUBJECT_ID`` column; the sets are then joined here, ``AND`` as an
intersection and ``OR`` as a union. (pyxnat sends the joined IDs back as a second search,
where a constraint matching no subject turns into an empty ``OR`` that matches every
subject; a set is exact.) A search only finds what the caller may read.
"""

from __future__ import annotations

from typing import Any

from ..criteria import BaseConstraint, CompoundConstraint, Constraint, SearchField
from ..exceptions import XNATValueError
from ..services.search import Query
from .search import constraints_from

__all__ = ["matching_subjects"]


def matching_subjects(session: Any, constraints: Any) -> frozenset[str]:
    """The IDs of the subjects the constraints select (one search per constraint)."""
    return frozenset(_evaluate(session, constraints_from(constraints)))


def _evaluate(session: Any, node: BaseConstraint) -> set[str]:
    if isinstance(node, CompoundConstraint):
        sets = [_evaluate(session, child) for child in node.constraints]
        joined = set.intersection(*sets) if node.operator.strip().upper() == "AND" else set.union(*sets)
        return joined
    if isinstance(node, Constraint):
        return _subjects_of(session, node)
    raise XNATValueError(f"cannot filter by {node!r}")


def _subjects_of(session: Any, constraint: Constraint) -> set[str]:
    """One search: the ``SUBJECT_ID`` of the rows of the constraint's data type that match it."""
    datatype, slash, _ = str(constraint.identifier).partition("/")
    if not slash or ":" not in datatype:
        raise XNATValueError(f"{constraint.identifier!r} is not a search field: write it 'xnat:subjectData/FIELD'")
    column = SearchField(datatype, "SUBJECT_ID")
    rows = Query(datatype, session, [column], constraint).tabulate_dict()
    return {str(value) for row in rows for key, value in row.items() if key.lower() == "subject_id" and value}
