"""The executed series as a static site (the book), opened in a real headless Chromium with the
network blocked: notebook 04 run as `make tutorial` runs it (the learner's path, without the
worked solutions), then the site built from it. The browser shows the index that introduces the
series, the graph of an executed workflow with its status colours and alt text, each worked
solution folded under its exercise (taken from the notebook's source), no check saying "not yet",
no In/Out prompts, and nothing wider than the page. A screenshot is saved under build/."""
import html
import json
import os
import re
import shutil
import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers import config, graph
from helpers.exercises import Feedback
from series_tools import series, site
from local_aws import control

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
NOTEBOOK_04 = next(p for p in series.notebooks() if p.name.startswith("04_"))
# One worker runs the module (`make test` uses --dist loadgroup): notebook 04 and the site are
# built once.
pytestmark = [pytest.mark.xdist_group("site"), pytest.mark.long]


# Set by .ci/run: there, a missing browser fails the run instead of skipping the test.
REQUIRE_BROWSER = "TUTORIAL_REQUIRE_BROWSER"


def browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        why = ("no Chromium on this machine: install Debian's `chromium` to run the "
               "real-browser test")
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{why} ({REQUIRE_BROWSER}=1, as in CI: the browser is required)")
        # Printed in the summary (-ra): `apt-get install chromium` (.ci/run does it) runs it.
        pytest.skip(why)
    return found


def chromium(page, tmp_path, *arguments) -> str:
    """Run headless Chromium on a page with every network request sent to a closed port."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    result = subprocess.run(
        [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--proxy-server=http://127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>", *arguments, page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# Run in the browser on a copy of a page (the site itself has no script): what a reader sees.
MEASURE = """
const visible = element => element !== null && element.checkVisibility();
const solutions = [...document.querySelectorAll("div.celltag_exercise")].map(exercise => {
  let element = exercise.nextElementSibling;
  while (element && !element.matches("details.solution, div.celltag_exercise")) {
    element = element.nextElementSibling;
  }
  if (!element || !element.matches("details.solution")) return null;
  const code = element.querySelector(".input");
  const folded = {open: element.open, codeShown: visible(code),
                  summary: element.querySelector("summary").innerText};
  element.open = true;
  return {...folded, codeShownOnceOpened: visible(code), code: code.innerText};
});
const graphs = [...document.querySelectorAll("svg.state-machine:not(svg svg)")].map(svg => ({
  title: svg.querySelector(":scope > title")?.textContent, width: svg.getBoundingClientRect().width,
  states: svg.querySelectorAll("g.node").length}));
const blocks = [...document.querySelectorAll(".output_subarea, table.side-by-side, pre")];
const text = document.body.innerText;
document.body.insertAdjacentHTML("beforeend", "<pre id='measured'></pre>");
document.getElementById("measured").textContent = JSON.stringify({
  solutions, graphs, prompts: /(In|Out)\\s*\\[\\d*\\]:/.test(text),
  notYet: [...document.querySelectorAll(".output_area")].filter(
    output => /✘.*: not yet\\./.test(output.innerText)).length,
  pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
  blocksPastTheEdge: blocks.filter(b => b.getBoundingClientRect().right > window.innerWidth + 1)
    .map(b => b.className || b.tagName),
  images: [...document.images].map(image => image.alt)});
"""


def measure(page, tmp_path, width=800) -> dict:
    """What a reader's browser shows on a page `width` pixels wide (see MEASURE)."""
    copy = tmp_path / f"measured-{page.name}"
    copy.write_text(page.read_text().replace("</body>", f"<script>{MEASURE}</script></body>"))
    dom = chromium(copy, tmp_path, f"--window-size={width},1000", "--dump-dom")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.fixture(scope="module")
def executed_site(tmp_path_factory):
    """Notebook 04 executed as `make tutorial` runs it, on a fresh local AWS, and the site."""
    work = tmp_path_factory.mktemp("site")
    state_dir = work / "state"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TUTORIAL_BACKEND", "local")
        env.setenv("TUTORIAL_STATE_DIR", str(state_dir))
        result = series.execute(NOTEBOOK_04, work / "notebooks", timeout=300, solutions=False)
        control.stop(state_dir)
    assert result["status"] == "ok", result
    return site.build(work / "notebooks", work / "site")


def test_the_site_has_no_external_resources(executed_site):
    for page in executed_site.parent.glob("*.html"):
        text = page.read_text()
        assert "<script" not in text, page.name
        assert not re.search(r'(src|href)="(https?:)?//(?!www\.w3\.org)[^"]*\.(js|css)', text)
        assert not re.search(r'<(img|link|iframe)[^>]+(src|href)="https?://', text), page.name


def test_a_real_browser_shows_the_executed_graph_with_status_colours(executed_site, tmp_path):
    page = executed_site.parent / NOTEBOOK_04.with_suffix(".html").name
    dom = chromium(page, tmp_path, "--dump-dom")
    nodes = re.findall(r'<g class="node" data-state="([^"]+)" data-type="[^"]+" '
                       r'data-status="([^"]+)"><rect [^>]*fill="([^"]+)"', dom)
    statuses = {state: (status, fill) for state, status, fill in nodes}
    assert statuses["SageMakerModelTraining"] == ("caught", graph.STATUS_FILL["caught"])
    assert statuses["Notify Failure"] == ("succeeded", graph.STATUS_FILL["succeeded"])
    assert statuses["Fail"] == ("failed", graph.STATUS_FILL["failed"])
    shown = measure(page, tmp_path)["graphs"]
    assert shown and all(g["width"] > 100 and g["states"] >= 3 for g in shown)
    assert all(g["title"].startswith("State machine graph with") for g in shown)
    assert any("Coloured by an execution: " in g["title"] for g in shown)
    screenshot = config.REPO_ROOT / "build" / "site-04-screenshot.png"
    screenshot.parent.mkdir(exist_ok=True)
    chromium(page, tmp_path, "--window-size=1100,2400", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000


def test_the_index_introduces_the_series_and_lists_its_notebooks(executed_site, tmp_path):
    dom = chromium(executed_site, tmp_path, "--dump-dom")
    readme = (config.REPO_ROOT / "README.md").read_text()
    assert f"<h1>{html.escape(readme.splitlines()[0].lstrip('# '))}</h1>" in dom
    for heading in ("Who it is for", "What you will learn", "How long it takes", "Contents"):
        assert f"<h2>{heading}</h2>" in dom
    assert "Step Functions with SageMaker" in dom  # the source document
    assert re.search(r"About \d+ h \d\d min at a workshop's pace|About \d+ minutes", dom)
    # One entry per executed notebook, its title and opening paragraph from the notebook itself.
    entries = re.findall(r'<li><a href="([^"]+)"><span class="number">', dom)
    assert entries == [NOTEBOOK_04.with_suffix(".html").name]
    source = nbformat.read(NOTEBOOK_04, as_version=4).cells[0].source
    title, opening = source.split("\n\n")[0], source.split("\n\n")[1]
    assert html.escape(title.split(" · ", 1)[1]) in dom
    assert " ".join(opening.split()[:6]) in " ".join(re.sub(r"<[^>]+>", "", dom).split())


def test_worked_solutions_are_folded_under_each_exercise(executed_site, tmp_path):
    """`make tutorial` ran without the solutions; the site has them, from the notebook's
    source, folded under each exercise; no unanswered check says "not yet"."""
    shown = measure(executed_site.parent / NOTEBOOK_04.with_suffix(".html").name, tmp_path)
    source = nbformat.read(NOTEBOOK_04, as_version=4)
    exercises = [c for c in source.cells if "exercise" in c.metadata.get("tags", [])]
    solutions = [c.source for c in source.cells
                 if "solution" in c.metadata.get("tags", []) and c.cell_type == "code"]
    assert len(shown["solutions"]) == len(exercises) == len(solutions) >= 2
    for folded, code in zip(shown["solutions"], solutions):
        assert folded["summary"] == "Worked solution"
        assert not folded["open"] and not folded["codeShown"]
        assert folded["codeShownOnceOpened"]
        assert " ".join(folded["code"].split()) == " ".join(code.split())
    assert not shown["notYet"]
    assert not shown["prompts"]


def test_nothing_is_wider_than_the_page(executed_site, tmp_path):
    """Wide tables, side-by-sides and long lines scroll inside their own block: on an 800-pixel
    window the page itself does not scroll sideways."""
    shown = measure(executed_site.parent / NOTEBOOK_04.with_suffix(".html").name, tmp_path)
    assert shown["viewport"] == 800
    assert shown["pageWidth"] <= shown["viewport"]
    assert not shown["blocksPastTheEdge"]
    assert shown["images"] == []  # notebook 04 has no plot: test_plots_have_alt_text has one


def test_plots_have_alt_text(tmp_path):
    """A plot in an executed notebook gets alt text that says what it shows."""
    notebook = new_notebook(cells=[new_markdown_cell("# 00 · Plots\n\nA plot."), new_code_cell(
        'import pandas as pd\npd.DataFrame({"job": ["a", "b"], "accuracy": [0.5, 0.9]})'
        '.plot.barh(x="job", y="accuracy", xlim=(0, 1), title="Accuracy per model");')])
    nbformat.write(notebook, tmp_path / "00_plots.ipynb")
    assert series.execute(tmp_path / "00_plots.ipynb", tmp_path / "executed")["status"] == "ok"
    index = site.build(tmp_path / "executed", tmp_path / "site", source_dir=tmp_path)
    shown = measure(index.parent / "00_plots.html", tmp_path)
    assert shown["images"] == ['Bar chart "Accuracy per model" (horizontal bars): accuracy for '
                               'each job (a, b); x axis 0 to 1.']


def exercise_notebook(solved: bool):
    """Two exercises with a check each and a worked solution each, a note for notebook
    readers before them; `solved`: as run with the solutions (the check before each solution
    answered "not yet", the solution's own check "done")."""
    not_yet, done = Feedback("00.1", "A thing", problems=["No answer yet."]), Feedback("00.1",
                                                                                    "A thing")

    def check(feedback):
        return new_code_cell('answer = None\nhelpers.exercises.check(aws, "00.1", answer)',
                             outputs=[new_output("execute_result", {"text/plain": repr(feedback)},
                                                 execution_count=1)] if solved else [])
    cells = [new_markdown_cell("# 00 · Exercises\n\nSome."), new_markdown_cell("## Exercises")]
    cells.append(new_markdown_cell("Open the solutions on the left.", metadata={
        "tags": ["solution"]}))
    for number in (1, 2):
        cells += [new_markdown_cell(f"**Exercise {number}**", metadata={"tags": ["exercise"]}),
                  check(not_yet),
                  new_code_cell(f"# Solution {number}\nanswer = {number}",
                                metadata={"tags": ["solution"]},
                                outputs=[new_output("execute_result", {
                                    "text/plain": repr(done)}, execution_count=2)]
                                if solved else [])]
    cells.append(new_markdown_cell("## Clean up"))
    return new_notebook(cells=cells)


def test_solutions_come_from_the_source_when_the_run_had_none(tmp_path):
    source = exercise_notebook(solved=False)
    (tmp_path / "source").mkdir()
    nbformat.write(source, tmp_path / "source" / "00_x.ipynb")
    executed = exercise_notebook(solved=False)
    executed.cells = series.without_solutions(source.cells)
    (tmp_path / "executed").mkdir()
    nbformat.write(executed, tmp_path / "executed" / "00_x.ipynb")
    site.build(tmp_path / "executed", tmp_path / "site", source_dir=tmp_path / "source")
    page = (tmp_path / "site" / "00_x.html").read_text()
    folded = re.findall(r'<details class="solution">(.*?)</details>', page, re.S)
    assert len(folded) == 2 and "# Solution 1" in folded[0] and "# Solution 2" in folded[1]
    assert all("this build ran the learner&#x27;s path" in f or "learner's path" in f
               for f in folded)
    assert "Open the solutions on the left" not in page  # a note for notebook readers
    assert page.index("Exercise 1") < page.index("# Solution 1") < page.index("Exercise 2")
    # A source that no longer matches the run: no solutions, and the page says where they are.
    source.cells.insert(1, new_markdown_cell("A new paragraph."))
    nbformat.write(source, tmp_path / "source" / "00_x.ipynb")
    site.build(tmp_path / "executed", tmp_path / "site", source_dir=tmp_path / "source")
    page = (tmp_path / "site" / "00_x.html").read_text()
    assert "<details" not in page and "worked solutions are in the notebook itself" in page


def test_a_run_with_its_solutions_shows_them_and_their_answers_but_no_not_yet(tmp_path):
    nbformat.write(exercise_notebook(solved=True), tmp_path / "00_x.ipynb")
    site.build(tmp_path, tmp_path / "site", source_dir=tmp_path / "nowhere")
    page = (tmp_path / "site" / "00_x.html").read_text()
    folded = re.findall(r'<details class="solution">(.*?)</details>', page, re.S)
    assert len(folded) == 2 and all("✔ 00.1 · A thing: done." in f for f in folded)
    assert "learner" not in folded[0]
    assert "not yet" not in page and "# Solution 2" in page


def test_the_not_yet_pattern_is_the_exercises_own():
    assert site.NOT_YET.match(repr(Feedback("04.1", "A Retry", problems=["No answer yet."])))
    assert not site.NOT_YET.match(repr(Feedback("04.1", "A Retry")))


def test_pages_link_to_each_other_and_to_the_contents(tmp_path):
    for number, title in (("00", "Setup"), ("01", "Build"), ("02", "Upload")):
        notebook = new_notebook(cells=[new_markdown_cell(
            f"# {number} · {title}\n\nNext: [the next one]({int(number) + 1:02d}_x.ipynb)")])
        nbformat.write(notebook, tmp_path / f"{number}_x.ipynb")
    index = site.build(tmp_path, tmp_path / "site")
    middle = (tmp_path / "site" / "01_x.html").read_text()
    assert '<a href="00_x.html">← 00 · Setup</a>' in middle
    assert '<a href="02_x.html">02 · Upload →</a>' in middle
    assert 'href="index.html">Contents' in middle and 'href="02_x.html">the next one' in middle
    entries = re.findall(r'<li><a href="([^"]+)"><span class="number">(\d\d)</span>([^<]+)</a>'
                         r'<p>Next: <a href="(\d\d_x.html)">', index.read_text())
    assert entries == [("00_x.html", "00", "Setup", "01_x.html"),
                       ("01_x.html", "01", "Build", "02_x.html"),
                       ("02_x.html", "02", "Upload", "03_x.html")]


def test_a_missing_browser_skips_locally_but_fails_in_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.delenv(REQUIRE_BROWSER, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium on this machine"):
        browser()
    monkeypatch.setenv(REQUIRE_BROWSER, "1")
    with pytest.raises(pytest.fail.Exception, match="the browser is required"):
        browser()


def test_ci_requires_the_browser():
    """.ci/run sets the variable before `make test`, and fails if Chromium cannot be installed."""
    ci = (config.REPO_ROOT / ".ci" / "run").read_text()
    assert f"export {REQUIRE_BROWSER}=1" in ci
    assert ci.index(f"export {REQUIRE_BROWSER}=1") < ci.index("make test")
