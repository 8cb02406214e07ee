"""Python names for schema names, as xnatpy 0.8 spells them, and made safe.

A schema is server text: a name in it may be a Python keyword, a dunder name, contain
punctuation or be empty. Everything here turns such a name into a plain identifier or
answers ``None`` so the caller can skip it with a warning. Nothing is ever evaluated.

Spelling (observed from xnatpy 0.8.1 so existing scripts keep working):

* attributes: ``fieldStrength`` -> ``field_strength``, ``studyUID`` -> ``study_uid``,
  ``HTMLCell`` -> ``htmlcell``, ``some-thing`` -> ``some_thing``, ``class`` -> ``class_``;
* classes: ``xnat:mrSessionData`` -> ``MrSessionData`` (the ``xnat`` prefix is dropped),
  ``cat:catalog`` -> ``CatCatalog``, ``xnat_a:ybocsData`` -> ``AYbocsData``.
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Sequence

__all__ = ["is_safe_identifier", "pythonize_attribute_name", "pythonize_class_name", "safe_identifier"]

# A lower-case letter or digit followed by a capital starts a new word: fieldStrength.
_WORD_BREAK = re.compile(r"([a-z0-9])([A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9_]")
_UNDERSCORES = re.compile(r"_+")
_CLASS_PARTS = re.compile(r"[^a-zA-Z0-9]+")
# The core namespace prefix is left out of class names (xnat:subjectData -> SubjectData);
# "xnat_a:" style prefixes lose their "xnat_" part as they do in xnatpy.
_CORE_PREFIX = re.compile(r"^xnat[:_]")
_ASCII_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_safe_identifier(name: str) -> bool:
    """True for an ASCII identifier that is not a keyword and not a dunder name."""
    if not _ASCII_IDENTIFIER.match(name) or keyword.iskeyword(name):
        return False
    return not (name.startswith("__") and name.endswith("__"))


def safe_identifier(name: str) -> str | None:
    """``name`` itself if safe, a keyword with ``_`` appended, otherwise ``None``."""
    if keyword.iskeyword(name):
        name += "_"
    return name if is_safe_identifier(name) else None


@functools.lru_cache(maxsize=8192)  # field names repeat across types and sessions
def pythonize_attribute_name(name: str) -> str | None:
    """The attribute name for a schema field, or ``None`` when no safe name exists.

    >>> pythonize_attribute_name("fieldStrength")
    'field_strength'
    >>> pythonize_attribute_name("class")
    'class_'
    >>> pythonize_attribute_name("1abc") is None
    True
    """
    text = _WORD_BREAK.sub(r"\1_\2", name).lower()
    text = _UNDERSCORES.sub("_", _NOT_WORD.sub("_", text)).lstrip("_")
    return safe_identifier(text)


@functools.lru_cache(maxsize=8192)
def pythonize_class_name(xsi_type: str) -> str | None:
    """The class name for an xsi type such as ``xnat:mrSessionData``, or ``None``.

    >>> pythonize_class_name("xnat:mrSessionData")
    'MrSessionData'
    >>> pythonize_class_name("cat:catalog")
    'CatCatalog'
    """
    text = _CORE_PREFIX.sub("", xsi_type)
    parts = [part[0].upper() + part[1:] for part in _CLASS_PARTS.split(text) if part]
    return safe_identifier("".join(parts))


def anonymous_class_name(prefix: str, path: Sequence[str]) -> str | None:
    """The class name of an anonymous nested type, e.g. ``XnatpyMrScanDataParameters``.

    ``path`` is the containing type's local name followed by the element names that lead to
    the anonymous type. xnatpy spells these ``Xnatpy<Parent><Field>``; it leaves the
    namespace out, so two schemas could overwrite each other (xnatpy bug 15). The core
    namespace keeps xnatpy's spelling; every other namespace adds its prefix
    (``cat:catalog/metaFields`` -> ``XnatpyCatCatalogMetafields``).
    """
    if not path:
        return None
    head = path[0]
    head = f"{prefix}:{head}" if prefix and prefix != "xnat" else head
    name = "Xnatpy" + (pythonize_class_name(head) or "")
    name += "".join(_capitalize(part) for part in path[1:])
    return safe_identifier(name) if len(name) > len("Xnatpy") else None


def _capitalize(part: str) -> str:
    """xnatpy's ``str.capitalize`` of a field name, punctuation removed."""
    return "".join(piece.capitalize() for piece in _CLASS_PARTS.split(part) if piece)
