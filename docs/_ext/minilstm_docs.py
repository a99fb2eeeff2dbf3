"""The documentation build's own checks and generated pages (a Sphinx extension, ``docs/conf.py``).

- ``execution_cache_path``: where MyST-NB caches executed notebooks, one folder per mode (fast or
  full) and per state of the code the notebooks run (``minilstm/`` without its docstrings,
  ``benchmarks/*.py``, the solutions), so a cached result never outlives the code that produced it.
- the benchmark result pages: one page per ``benchmarks/results/*.md``, generated into
  ``docs/benchmarks/results/`` (not tracked): the command that produced it, its chart and the
  file itself, included.
- every tutorial page opens with a note: the mode it was executed in and a link to download it.
- the API check: every public name of the public packages is documented somewhere in the API
  reference and has a docstring, and so has every public method or property of a public class.
- MathJax 3 (from the ``django-static-mathjax`` package: MathJax's own files) copied into
  ``_static/mathjax``, with the SVG output (no web fonts, so it renders from file:// pages).
- ``minilstm-cli-help``: the command line's ``--help`` texts, read from its parser.
- the internal link check: every local ``href``/``src`` of every page points to a file that
  exists (and to an ``id`` in it, for ``#anchors``), and no page loads anything from the network.
"""
import argparse
import ast
import glob
import hashlib
import importlib
import inspect
import json
import os
import re
import shutil
import types
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

DOCS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(DOCS)

# The packages whose public names the API reference must cover. A public name: no leading
# underscore, not a module, defined inside minilstm (and, below the top level, inside that package).
PUBLIC_PACKAGES = [
    "minilstm", "minilstm.core", "minilstm.gru", "minilstm.bidirectional", "minilstm.nn",
    "minilstm.functional", "minilstm.optim", "minilstm.gradcheck", "minilstm.exercises",
    "minilstm.exercises.stubs", "minilstm.forecast", "minilstm.datasets", "minilstm.interop",
    "minilstm.plotting", "minilstm.errors", "minilstm.backend",
]
# The command line is documented as a command line (its parser), plus these entry points.
CLI_NAMES = ["minilstm.cli.main", "minilstm.cli.build_parser"]


def fast_mode():
    return os.environ.get("MINILSTM_FAST", "1") == "1"


# ---- the execution cache -----------------------------------------------------------------------
def _without_docstrings(source):
    """A Python file's code as ``ast.dump`` gives it, docstrings left out (editing a docstring does
    not change what a notebook computes); the raw bytes where it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def code_fingerprint(root=ROOT):
    """A hash of every file the executed notebooks depend on, besides the notebooks themselves:
    the package (its code without docstrings, and its data), the benchmark scripts (notebook 8
    imports them) and the exercises' solutions (notebook 4 runs them)."""
    h = hashlib.sha256()
    files = [p for p in glob.glob(os.path.join(root, "minilstm", "**", "*"), recursive=True)
             if os.path.isfile(p) and "__pycache__" not in p]
    files += glob.glob(os.path.join(root, "benchmarks", "*.py"))
    files += glob.glob(os.path.join(root, "tutorials", "solutions", "*.py"))
    for path in sorted(files):
        h.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
        with open(path, "rb") as f:
            data = f.read()
        h.update(_without_docstrings(data) if path.endswith(".py") else data)
    return h.hexdigest()[:16]


def execution_cache_path(root=ROOT, docs=DOCS):
    """``$MINILSTM_DOCS_CACHE`` or docs/_build/.jupyter_cache, then <mode>-<code fingerprint>; older
    folders of the same mode are removed."""
    base = os.environ.get("MINILSTM_DOCS_CACHE") or os.path.join(docs, "_build", ".jupyter_cache")
    mode = "fast" if fast_mode() else "full"
    path = os.path.join(base, f"{mode}-{code_fingerprint(root)}")
    for old in glob.glob(os.path.join(base, f"{mode}-*")):
        if os.path.abspath(old) != os.path.abspath(path):
            shutil.rmtree(old, ignore_errors=True)
    return path


# ---- generated pages: one per benchmark result ---------------------------------------------------
SCRIPTS = {"cpu": "bench_cpu.py", "accuracy": "bench_accuracy.py", "backtest": "bench_backtest.py",
           "demo_seeds": "bench_demo_seeds.py", "peers": "bench_peers.py"}
DEFAULT_COMMANDS = {"cpu_default_malloc": "python benchmarks/bench_cpu.py --default-malloc"}
TITLES = {
    "cpu": "CPU speed", "cpu_default_malloc": "CPU speed with glibc's default malloc",
    "accuracy": "Accuracy: the defaults against a plain PyTorch loop",
    "accuracy_weather10": "Accuracy: the forget-gate bias on the weather, 10 seeds",
    "backtest": "Backtests, ensembles and sweeps", "demo_seeds": "The demo over seeds 0, 1, 2",
    "peers": "Against statsforecast and Darts",
}


def result_command(stem, text, meta):
    """The command that produced results/<stem>.*: the JSON's, the Markdown's, or the script's."""
    if isinstance(meta, dict) and meta.get("command"):
        return meta["command"]
    m = re.search(r"(?:Taken with|Command:) `([^`]+)`", text)
    if m:
        return m.group(1)
    if stem in DEFAULT_COMMANDS:
        return DEFAULT_COMMANDS[stem]
    script = next((s for p, s in SCRIPTS.items() if stem == p or stem.startswith(p + "_")), None)
    return f"python benchmarks/{script}" if script else None


def result_title(stem, meta):
    if stem in TITLES:
        return TITLES[stem]
    if stem.startswith("peers_") and isinstance(meta, dict):
        cfg = meta.get("minilstm_config") or {}
        what = ", ".join(f"{k}={json.dumps(v)}" for k, v in cfg.items()) or meta.get("label", stem)
        return f"Peers ablation: {what}"
    return stem.replace("_", " ").capitalize()


def write_if_changed(path, text):
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if old != text:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def generate_result_pages(app):
    results = os.path.join(ROOT, "benchmarks", "results")
    out = os.path.join(app.srcdir, "benchmarks", "results")
    wanted = set()
    for md in sorted(glob.glob(os.path.join(results, "*.md"))):
        stem = os.path.splitext(os.path.basename(md))[0]
        text = open(md, encoding="utf-8").read()
        js = os.path.join(results, stem + ".json")
        meta = json.load(open(js, encoding="utf-8")) if os.path.exists(js) else None
        command = result_command(stem, text, meta)
        rel = "../../../benchmarks/results/"
        lines = [f"# {result_title(stem, meta)}", ""]
        if command:
            lines += ["Produced by:", "", "```bash", command, "```", ""]
        lines += [f"Files: `benchmarks/results/{stem}.md` (shown below)"
                  + (f", `{stem}.json`" if meta is not None else "")
                  + (f", `{stem}.png`" if os.path.exists(os.path.join(results, stem + ".png")) else "")
                  + ". The benchmarks' page says how each script measures.", ""]
        if os.path.exists(os.path.join(results, stem + ".png")):
            lines += [f"```{{image}} {rel}{stem}.png", f":alt: {result_title(stem, meta)}", "```", ""]
        lines += [f"```{{include}} {rel}{stem}.md", "```", ""]
        page = os.path.join(out, stem + ".md")
        wanted.add(page)
        write_if_changed(page, "\n".join(lines))
    for stale in glob.glob(os.path.join(out, "*.md")):
        if stale not in wanted:
            os.remove(stale)


# ---- the tutorials' note: mode and download -------------------------------------------------------
def add_notebook_note(app, doctree):
    docname = app.env.docname
    path = app.env.doc2path(docname)
    if not str(path).endswith(".ipynb"):
        return
    section = doctree.next_node(nodes.section)
    if section is None:
        return
    name = os.path.basename(str(path))
    para = nodes.paragraph()
    if fast_mode():
        para += nodes.Text("Executed when this site was built, in fast mode (MINILSTM_FAST=1: "
                           "shorter training and smaller runs, so trained models' numbers here are "
                           "not the full-mode results the text may quote). ")
    else:
        para += nodes.Text("Executed when this site was built, in full mode. ")
    para += nodes.Text("Download the notebook: ")
    ref = addnodes.download_reference("", "", refdoc=docname, reftarget=name, refexplicit=True,
                                      reftype="download", refdomain="", refwarn=True)
    ref += nodes.literal(name, name)
    para += ref
    para += nodes.Text(" (run it from the repository's tutorials/ folder: "
                       "pip install -e \".[notebooks]\" && jupyter lab tutorials/).")
    note = nodes.note("", para)
    index = 1 if section.children and isinstance(section.children[0], nodes.title) else 0
    section.insert(index, note)


# ---- the API check --------------------------------------------------------------------------------
def public_names(package):
    mod = importlib.import_module(package)
    out = {}
    for name in dir(mod):
        if name.startswith("_"):
            continue
        obj = getattr(mod, name)
        if isinstance(obj, types.ModuleType):
            continue
        where = getattr(obj, "__module__", None) or ""
        if not where.startswith("minilstm"):
            continue
        if package != "minilstm" and not (where == package or where.startswith(package + ".")):
            continue
        out[f"{package}.{name}"] = obj
    return out


def resolve(fullname):
    """The object a dotted public name gives, read as Python reads ``a.b.c`` (so a function named
    like its module, ``minilstm.forecast.backtest``, is the function); None if there is none."""
    parts = fullname.split(".")
    try:
        obj = importlib.import_module(parts[0])
    except ImportError:
        return None
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        try:
            obj = importlib.import_module(".".join(parts[:i + 1]))
        except ImportError:
            return None
    return obj


def members_needing_docs(cls):
    """Public methods and properties defined by a minilstm class itself."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            yield name, value


def check_api(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    documented = {}
    for fullname, entry in app.env.get_domain("py").objects.items():
        obj = resolve(fullname)
        if obj is not None:
            documented.setdefault(id(obj), (fullname, entry.docname))
    missing, undocstringed = [], []
    names = {}
    for package in PUBLIC_PACKAGES:
        names.update(public_names(package))
    for fullname in CLI_NAMES:
        names[fullname] = resolve(fullname)
    for fullname, obj in sorted(names.items()):
        if id(obj) not in documented:
            missing.append(fullname)
        if not (inspect.getdoc(obj) or "").strip():
            undocstringed.append(fullname)
        if inspect.isclass(obj):
            for name, member in members_needing_docs(obj):
                if not (getattr(member, "__doc__", None) or "").strip():
                    undocstringed.append(f"{fullname}.{name}")
    for fullname in sorted(set(missing)):
        logger.warning(f"API reference: public name {fullname} is not documented in docs/api/",
                       type="minilstm", subtype="api")
    for fullname in sorted(set(undocstringed)):
        logger.warning(f"API reference: public name {fullname} has no docstring",
                       type="minilstm", subtype="api")


# ---- MathJax, bundled ---------------------------------------------------------------------------
def mathjax_dir():
    """MathJax 3's browser files (``es5/``) as the django-static-mathjax package installs them."""
    from importlib.metadata import distribution
    return str(distribution("django-static-mathjax").locate_file("mathjax/static/mathjax/es5"))


def _mathjax_ignore(folder, names):
    """What the site does not load: the other combined components and the CommonHTML output's web fonts."""
    skip = set()
    for name in names:
        path = os.path.join(folder, name)
        if os.path.basename(folder) == "es5" and name.endswith(".js") and name not in ("tex-svg.js", "startup.js"):
            skip.add(name)
        elif name in ("chtml", "chtml.js", "node-main.js") or name.endswith(".map"):
            skip.add(name)
        elif name == "sre" and os.path.isdir(path):
            skip.add(name)                 # the speech engine, off unless a reader turns it on in the menu
    return skip


def copy_mathjax(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    dst = os.path.join(app.outdir, "_static", "mathjax")
    if not os.path.exists(os.path.join(dst, "tex-svg.js")):
        shutil.copytree(mathjax_dir(), dst, ignore=_mathjax_ignore, dirs_exist_ok=True)


# ---- the internal link check ----------------------------------------------------------------------
class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "img", "link", "script", "iframe", "source"):
                self.links.append((tag, attrs[key]))


def check_links(app, exc):
    if exc is not None or app.builder.format != "html":
        return
    outdir = str(app.outdir)
    pages = {}
    for path in glob.glob(os.path.join(outdir, "**", "*.html"), recursive=True):
        if os.path.relpath(path, outdir).startswith("_static"):
            continue                       # the theme's template fragments, not pages
        parser = _Links()
        with open(path, encoding="utf-8") as f:
            parser.feed(f.read())
        pages[os.path.abspath(path)] = parser
    bad = []
    for path, parser in sorted(pages.items()):
        page = os.path.relpath(path, outdir)
        for tag, link in parser.links:
            parts = urlsplit(link)
            if parts.scheme in ("http", "https") or link.startswith("//"):
                if tag != "a":
                    bad.append(f"{page}: <{tag}> loads {link} from the network")
                continue
            if parts.scheme or link.startswith("#") and not parts.path:
                if link.startswith("#") and len(link) > 1 and unquote(parts.fragment) not in parser.ids:
                    bad.append(f"{page}: no id {link!r} on the page")
                continue
            target = os.path.abspath(os.path.join(os.path.dirname(path), unquote(parts.path)))
            if not os.path.exists(target):
                bad.append(f"{page}: {link} does not exist")
            elif (parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids
                  and not page.startswith("_modules")):
                # (the source pages' links back to the documentation name the defining module's path,
                # not the public name the object is documented under; they land on the right page)
                bad.append(f"{page}: {link}: no such id in {os.path.relpath(target, outdir)}")
    for line in bad:
        logger.warning(f"link check: {line}", type="minilstm", subtype="links")


# ---- the command line's help, read from its parser ----------------------------------------------
class CliHelp(Directive):
    """``.. minilstm-cli-help::``: what ``python -m minilstm --help`` and each command's ``--help``
    print, one literal block each, from ``minilstm.cli.build_parser``."""
    has_content = False

    def run(self):
        from minilstm import cli
        old = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            parser = cli.build_parser()
            helps = [("python -m minilstm --help", parser.format_help())]
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        helps.append((f"python -m minilstm {name} --help", sub.format_help()))
        finally:
            if old is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = old
        out = []
        for command, text in helps:
            para = nodes.paragraph()
            para += nodes.literal(command, command)
            block = nodes.literal_block(text, text.replace("usage: minilstm", "usage: python -m minilstm"))
            block["language"] = "text"
            out += [para, block]
        return out


def setup(app):
    app.add_directive("minilstm-cli-help", CliHelp)
    app.connect("builder-inited", generate_result_pages)
    app.connect("doctree-read", add_notebook_note, priority=400)
    app.connect("build-finished", copy_mathjax, priority=400)
    app.connect("build-finished", check_api, priority=500)
    app.connect("build-finished", check_links, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
