"""Sphinx configuration for the xnat documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "xnat"
author = "The xnat developers"
# No intersphinx: the docs must build offline with -W (an unreachable inventory is a warning).
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
autodoc_typehints = "description"
autodoc_mock_imports = ["werkzeug"]
# Methods inherited from requests and the stdlib keep their own docs (their cross-references
# point into other projects' documentation).
autodoc_inherit_docstrings = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
