"""The executed series as a static site, opened in a real headless Chromium with the network
blocked: the graph of an executed workflow is there, its states carry their status colours, and a
screenshot is saved under build/."""
import re
import shutil
import subprocess

import pytest

from helpers import config, graph
from series_tools import series, site
from local_aws import control

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str:
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found is None:
        # Printed in the summary (-ra): `apt-get install chromium` (.ci/run does it) runs it.
        pytest.skip("no Chromium on this machine: install Debian's `chromium` to run the "
                    "real-browser test")
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


@pytest.fixture(scope="module")
def executed_site(tmp_path_factory):
    """Notebook 04 executed on a fresh local AWS, and the site built from it."""
    work = tmp_path_factory.mktemp("site")
    state_dir = work / "state"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TUTORIAL_BACKEND", "local")
        env.setenv("TUTORIAL_STATE_DIR", str(state_dir))
        notebook = next(p for p in series.notebooks() if p.name.startswith("04_"))
        result = series.execute(notebook, work / "notebooks", timeout=300)
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
    page = executed_site.parent / "04_retry_catch_notify.html"
    dom = chromium(page, tmp_path, "--dump-dom")
    nodes = re.findall(r'<g class="node" data-state="([^"]+)" data-type="[^"]+" '
                       r'data-status="([^"]+)"><rect [^>]*fill="([^"]+)"', dom)
    statuses = {state: (status, fill) for state, status, fill in nodes}
    assert statuses["SageMakerModelTraining"] == ("caught", graph.STATUS_FILL["caught"])
    assert statuses["Notify Failure"] == ("succeeded", graph.STATUS_FILL["succeeded"])
    assert statuses["Fail"] == ("failed", graph.STATUS_FILL["failed"])
    index = chromium(executed_site, tmp_path, "--dump-dom")
    assert 'href="04_retry_catch_notify.html"' in index
    screenshot = config.REPO_ROOT / "build" / "site-04-screenshot.png"
    screenshot.parent.mkdir(exist_ok=True)
    chromium(page, tmp_path, "--window-size=1100,2400", f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000


def test_pages_link_to_each_other_and_to_the_contents(tmp_path):
    import nbformat
    from nbformat.v4 import new_markdown_cell, new_notebook
    for number, title in (("00", "Setup"), ("01", "Build"), ("02", "Upload")):
        notebook = new_notebook(cells=[new_markdown_cell(
            f"# {number} · {title}\n\nNext: [the next one]({int(number) + 1:02d}_x.ipynb)")])
        nbformat.write(notebook, tmp_path / f"{number}_x.ipynb")
    index = site.build(tmp_path, tmp_path / "site")
    middle = (tmp_path / "site" / "01_x.html").read_text()
    assert '<a href="00_x.html">← 00 · Setup</a>' in middle
    assert '<a href="02_x.html">02 · Upload →</a>' in middle
    assert 'href="index.html">Contents' in middle and 'href="02_x.html">the next one' in middle
    assert [line for line in index.read_text().split("<li>")[1:]][0].startswith(
        '<a href="00_x.html">00 · Setup')
