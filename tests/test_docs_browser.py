"""The built documentation site, opened from disk in a real browser (headless Chromium, Playwright).

Build the site first (the README's Documentation section):

    pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html

Then every page loads without console errors or failed requests, every image on every page has
loaded (naturalWidth > 0), the math is rendered by the bundled MathJax (SVG output) with no network (any request
that leaves the disk is refused and fails the test), the search page finds "forget gate", and the
navigation reaches every tutorial. Screenshots of the landing page and of one tutorial are written to
``<site>/_screenshots/``. Skipped, with the reason, where the site is not built, Playwright is not
installed or no Chromium is found (``MINILSTM_CHROMIUM`` names one; ``MINILSTM_DOCS_SITE`` another
site folder).
"""
import glob
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SITE = os.environ.get("MINILSTM_DOCS_SITE") or os.path.join(ROOT, "docs", "_build", "html")
TUTORIALS = sorted(os.path.splitext(os.path.basename(p))[0]
                   for p in glob.glob(os.path.join(ROOT, "tutorials", "*.ipynb")))
BUILD = 'pip install -e ".[docs]" && python -m sphinx -W -b html docs docs/_build/html'

pytestmark = pytest.mark.docs


def _chromium():
    named = os.environ.get("MINILSTM_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _url(relpath):
    return "file://" + os.path.join(os.path.abspath(SITE), relpath)


def _pages():
    pages = []
    for path in glob.glob(os.path.join(SITE, "**", "*.html"), recursive=True):
        rel = os.path.relpath(path, SITE)
        if not rel.startswith(("_static", "_sources", "_images", "_downloads")):
            pages.append(rel)
    return sorted(pages)


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(os.path.join(SITE, "index.html")):
        pytest.skip(f"no built documentation site in {SITE}: build it with {BUILD}")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                                   '(pip install -e ".[docs]")')
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium found (Debian: apt-get install chromium; or set MINILSTM_CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


class Visit:
    """One browser context that refuses every request that does not stay on disk."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.network = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.errors = []
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url} ({r.failure})"))

    def _route(self, route):
        url = route.request.url
        if url.startswith(("file:", "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.network.append(url)
            route.abort()

    def open(self, relpath):
        self.errors.clear()
        self.page.goto(_url(relpath), wait_until="load")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser):
    v = Visit(browser)
    yield v
    v.close()


IMAGES_JS = """async () => {
    const imgs = Array.from(document.images);
    for (const img of imgs) img.loading = "eager";
    await Promise.all(imgs.map(img => img.complete ? null
        : new Promise(done => { img.addEventListener("load", done); img.addEventListener("error", done); })));
    return imgs.map(img => [img.getAttribute("src"), img.naturalWidth]);
}"""

MATH_JS = """async () => {
    const blocks = Array.from(document.querySelectorAll("span.math, div.math"));
    if (!blocks.length) return {blocks: 0};
    if (!window.MathJax || !window.MathJax.startup) return {blocks: blocks.length, mathjax: false};
    await window.MathJax.startup.promise;
    return {
        blocks: blocks.length, mathjax: true,
        rendered: blocks.filter(b => b.querySelector("mjx-container svg")).length,
        errors: document.querySelectorAll("mjx-merror, [data-mjx-error], [data-mml-node='merror']").length,
        raw: blocks.filter(b => /\\\\[(\\[]|\\\\begin|\\$\\$/.test(b.innerText)).map(b => b.innerText.slice(0, 80)),
    };
}"""


def test_every_page_loads_without_errors_with_its_images_and_math(visit):
    pages = _pages()
    assert "index.html" in pages and "search.html" in pages
    problems, math_pages = [], {}
    for rel in pages:
        page = visit.open(rel)
        images = page.evaluate(IMAGES_JS)
        problems += [f"{rel}: image {src} did not load" for src, width in images if not width]
        math = page.evaluate(MATH_JS)
        if math["blocks"]:
            math_pages[rel] = math
            if not math["mathjax"]:
                problems.append(f"{rel}: {math['blocks']} math blocks but no MathJax")
            else:
                if math["rendered"] != math["blocks"] or math["errors"] or math["raw"]:
                    problems.append(f"{rel}: math rendered {math['rendered']}/{math['blocks']}, "
                                    f"{math['errors']} errors, raw TeX {math['raw'][:3]}")
        problems += [f"{rel}: {e}" for e in visit.errors]
    problems += [f"network request refused: {u}" for u in sorted(set(visit.network))]
    assert not problems, "\n".join(problems)
    # the math that must be there: the equations page and the first two tutorials
    for rel in ("equations.html", "tutorials/01_gates_and_forward_pass.html",
                "tutorials/02_backprop_through_time.html"):
        assert math_pages.get(rel, {}).get("rendered", 0) > 0, f"no rendered math on {rel}"
    assert math_pages["equations.html"]["rendered"] >= 5


def test_search_finds_forget_gate(visit):
    page = visit.open("search.html?q=forget+gate")
    # Sphinx adds the hits one at a time (every 5 ms), then says "Search finished": read them after that
    page.wait_for_function("() => (document.querySelector('#search-results p.search-summary') || {}).innerText"
                           "?.startsWith('Search finished')", timeout=30000)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.getAttribute('href'))")
    assert any("equations" in h for h in hits), hits
    assert any(h.startswith("tutorials/") for h in hits), hits
    assert not visit.errors and not visit.network, visit.errors + visit.network


def test_navigation_reaches_every_tutorial(visit):
    assert TUTORIALS, "no tutorials/*.ipynb"
    page = visit.open("index.html")
    # the landing page's navigation bar leads to the tutorials' page...
    page.locator(".bd-header nav a", has_text="Tutorials").first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/tutorials.html"), page.url
    # ...whose navigation (the sidebar and the page's table of contents) lists every notebook
    links = page.eval_on_selector_all(".bd-sidebar-primary nav a, .toctree-wrapper a", "as => as.map(a => a.href)")
    for stem in TUTORIALS:
        target = [u for u in links if u.split("#")[0].endswith(f"/tutorials/{stem}.html")]
        assert target, f"tutorial {stem} not reachable from the tutorials page: {links}"
        page.goto(target[0], wait_until="load")
        assert page.locator("h1").count() >= 1, stem
        download = page.locator("a.download", has_text=f"{stem}.ipynb")
        assert download.count() == 1, f"{stem}: no link to download the notebook"
        href = download.first.get_attribute("href")
        assert os.path.exists(os.path.join(SITE, "tutorials", href)), f"{stem}: {href} missing"
        assert "Executed when this site was built" in page.inner_text("main")
    assert not visit.errors and not visit.network, visit.errors + visit.network


def test_screenshots_of_the_landing_page_and_a_tutorial(visit):
    out = os.path.join(SITE, "_screenshots")
    os.makedirs(out, exist_ok=True)
    shots = {"landing.png": "index.html"}
    tutorial = next((s for s in TUTORIALS if s.startswith("05_")), TUTORIALS[0])
    shots["tutorial.png"] = f"tutorials/{tutorial}.html"
    for name, rel in shots.items():
        page = visit.open(rel)
        page.evaluate(IMAGES_JS)
        page.evaluate(MATH_JS)
        page.screenshot(path=os.path.join(out, name), full_page=name == "tutorial.png")
        assert os.path.getsize(os.path.join(out, name)) > 10000
