"""Sphinx configuration for the xnat documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "xnat"
author = "The xnat developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.intersphinx"]
autodoc_typehints = "description"
autodoc_mock_imports = ["werkzeug"]
intersphinx_mapping = {"python": ("https://docs.python.org/3", None)}
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = False
