"""xnatpy's documented path ``xnat.search``: an alias of :mod:`xnat.services.search`."""

from .services.search import (
    XDAT_NS,
    BaseConstraint,
    CompoundConstraint,
    Constraint,
    CustomFieldSearchField,
    Query,
    SearchField,
    SearchFieldLike,
    SearchFieldMap,
    SearchFieldMixin,
    and_,
    field_id_of,
    field_identifier,
    make_constraint,
    or_,
    serialize,
)

__all__ = [
    "XDAT_NS",
    "BaseConstraint",
    "CompoundConstraint",
    "Constraint",
    "CustomFieldSearchField",
    "Query",
    "SearchField",
    "SearchFieldLike",
    "SearchFieldMap",
    "SearchFieldMixin",
    "and_",
    "field_id_of",
    "field_identifier",
    "make_constraint",
    "or_",
    "serialize",
]
