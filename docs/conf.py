"""Sphinx configuration of minilstm's documentation site.

Build (from the repository root):

    pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html

The tutorials are executed during the build (MyST-NB, ``nb_execution_mode = "cache"``), in fast
mode unless ``MINILSTM_FAST=0`` is set; docs/README.md explains the choices.
"""
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, ROOT)                          # document this checkout's minilstm, whatever is installed
sys.path.insert(0, os.path.join(DOCS, "_ext"))
# The kernels that execute the notebooks import this checkout's minilstm too.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
# Fast mode (MINILSTM_FAST=1: short training) unless the builder asks for the full one with MINILSTM_FAST=0.
os.environ.setdefault("MINILSTM_FAST", "1")

import minilstm  # noqa: E402
import minilstm_docs  # noqa: E402

project = "minilstm"
author = "the minilstm authors"
copyright = "the minilstm authors; code MIT, bundled data as in Data sources and licences"
release = version = minilstm.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "minilstm_docs",
]

exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints", "tutorials/solutions", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
html_static_path = ["_static"]

# Warnings are errors (-W): every cross-reference must resolve.
nitpicky = True
nitpick_ignore_regex = [
    # types from other projects named in docstrings and signatures (no intersphinx: the build is offline)
    ("py:class", r"(numpy|np|pandas|pd|cupy|torch|joblib|dask|ray|matplotlib|collections|typing|pathlib|os)\..*"),
    ("py:class", r"(ndarray|DataFrame|Series|optional|callable|array-like|array_like|array|dict-like)"),
]

# ---- MyST and notebooks -------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = minilstm_docs.execution_cache_path(ROOT, DOCS)
nb_execution_timeout = 1200                      # seconds per cell
nb_execution_raise_on_error = True               # a notebook that raises fails the build
nb_execution_show_tb = True
nb_execution_excludepatterns = ["tutorials/solutions/*"]
nb_merge_streams = True

# ---- API reference ------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
add_module_names = False

# ---- HTML: a PyData theme, everything bundled (no CDN, works from disk) -------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"minilstm {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "changelog": []}
html_show_sourcelink = True
html_copy_source = True
# Search result summaries are fetched from each page, which a browser refuses to file:// pages: titles only.
html_show_search_summary = False
# MathJax 3 from PyPI's django-static-mathjax (a packaging of MathJax's own distribution, no dependencies),
# copied into _static/mathjax by minilstm_docs. The SVG output draws glyphs as paths: no web fonts, which a
# browser refuses to load from file:// pages, so the math renders from disk and offline.
mathjax_path = "mathjax/tex-svg.js"
html_context = {"default_mode": "auto"}
