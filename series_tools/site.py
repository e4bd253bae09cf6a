"""The executed series as a static web site, the book: build/site/index.html and one page per
notebook, with previous/next links. Everything is inline (styles, graphs as SVG, plots as data
URIs) and there is no JavaScript, so it opens offline in any browser, without Jupyter.

- The index introduces the series from the README (its title and opening paragraph, "Who it is
  for": audience, prerequisites, the source document; "What you will learn"), says how long it
  takes (the workshop plan's minutes, docs/workshop-plan.toml) and lists the notebooks found,
  each with its own title and opening paragraph: nothing in it is a second list to keep up.
- Worked solutions: `make tutorial` runs the learner's path, without the cells tagged `solution`
  (series.without_solutions), so the executed notebooks have none. The site takes them from the
  notebook's source (notebooks/), matched by cell id, and puts each exercise's solution under it,
  folded (`<details>`), code only and said so; an executed notebook that has its solutions (the
  tests', or `tutorial --with-solutions`) shows them with their outputs. The source is used only
  if its other cells are exactly the executed ones; otherwise the page says that the solutions
  are in the notebook. Cells tagged `solution` that come before any exercise are notes for
  notebook readers (where to click in JupyterLab) and are left out.
- The exercises' checks run unanswered on the learner's path: their "not yet" answers are left
  out (a solved check's answer stays).
- No In/Out prompts; wide tables and side-by-sides scroll inside their own block; every figure
  has alt text (plots: series_tools.alt_text; graphs, inlined as SVG: their own <title>).

nbconvert's full templates load require.js and MathJax from a CDN; the `basic` template gives the
cells alone, which this wraps in a page of its own.
"""
from __future__ import annotations

import copy
import html
import os
import re
import tomllib
from pathlib import Path

import nbformat
from bs4 import BeautifulSoup
from nbconvert import HTMLExporter
from nbconvert.filters import markdown2html
from pygments.formatters import HtmlFormatter

from helpers import config

BUILD_DIR = config.REPO_ROOT / "build"
SOURCE_DIR = config.REPO_ROOT / "notebooks"
README = config.REPO_ROOT / "README.md"
SOLUTION, EXERCISE = "solution", "exercise"
# helpers.exercises.Feedback's first line when the answer is not (yet) right.
NOT_YET = re.compile(r"\A\W*✘ .*: not yet\.")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.5; }
nav { display: flex; justify-content: space-between; margin: 1em 0; padding: .5em 0;
      border-top: 1px solid #ddd; border-bottom: 1px solid #ddd; }
a { color: #0b5cad; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: 85%; margin: .4em 0; }
.input pre { border-left: 3px solid #0b5cad; }
.output_area pre { background: #fff; border-left: 3px solid #ccc; }
.output_subarea { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 85%; }
td, th { border: 1px solid #ddd; padding: 2px 6px; vertical-align: top; }
table.side-by-side { table-layout: fixed; width: 100%; }
table.side-by-side td { width: 50%; }
table.side-by-side pre { overflow-x: auto; }
.anchor-link { visibility: hidden; text-decoration: none; margin-left: .3em; }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link { visibility: visible; }
.celltag_exercise { border-left: 4px solid #e0a800; background: #fffbea; padding: .2em 1em;
                    margin-top: 1.5em; }
details.solution { border: 1px solid #cfe2ff; border-radius: 4px; margin: .6em 0 1.2em;
                   padding: .3em .8em; background: #f7fbff; }
details.solution > summary { cursor: pointer; color: #0b5cad; font-weight: 600; }
details.solution .note { color: #555; font-size: 90%; margin: .3em 0; }
.lead { font-size: 110%; }
ol.contents { padding-left: 0; list-style: none; }
ol.contents li { margin: .9em 0; }
ol.contents .number { display: inline-block; min-width: 2.2em; font-family: monospace;
                      color: #555; }
ol.contents p { margin: .2em 0 0 2.6em; color: #444; font-size: 95%; }
svg.state-machine { max-width: none; }
"""


def _title(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Untitled"


def _opening(notebook) -> str:
    """The paragraph under a notebook's title: what it builds, why, how long."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            paragraphs = cell.source.split("\n\n")
            return paragraphs[1].strip() if len(paragraphs) > 1 else ""
    return ""


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def with_solutions(executed, source) -> bool | None:
    """Put the source notebook's `solution` cells back, at their places, into a notebook that
    was executed without them. True if it did, False if it has its own (executed) solutions,
    None if the source does not match what was executed (then none are added)."""
    if any(SOLUTION in _tags(cell) for cell in executed.cells):
        return False
    if source is None or not any(SOLUTION in _tags(cell) for cell in source.cells):
        return False
    learners = [cell.get("id") for cell in source.cells if SOLUTION not in _tags(cell)]
    if None in learners or learners != [cell.get("id") for cell in executed.cells]:
        return None
    executed_by_id = {cell.id: cell for cell in executed.cells}
    merged = []
    for cell in source.cells:
        if SOLUTION in _tags(cell):
            cell = copy.deepcopy(cell)
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            merged.append(cell)
        else:
            merged.append(executed_by_id[cell.id])
    executed.cells = merged
    return True


def _is_not_yet(output) -> bool:
    text = output.get("data", {}).get("text/plain", "")
    return bool(NOT_YET.match(text if isinstance(text, str) else "".join(text)))


def _prepare(notebook) -> list[str]:
    """The learner's unanswered checks say nothing; a cell's own alt text goes on its image.
    An SVG (a graph) is to go into the page as markup, not as an <img> (nbconvert's way): its
    states can be inspected, its text selected, and its <title> is read out as its alt text.
    Each is replaced by a placeholder here (the HTML passes through BeautifulSoup twice, which
    would rewrite it) and returned, to be put in the page at the end (_put_back)."""
    svgs = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = [output for output in cell.outputs if not _is_not_yet(output)]
        for output in cell.outputs:
            data = output.get("data", {})
            if "image/svg+xml" in data and "text/html" not in data:
                data["text/html"] = f"<div>@@svg-output-{len(svgs)}@@</div>"
                svgs.append(data.pop("image/svg+xml"))
        if cell.get("metadata", {}).get("alt"):
            for output in cell.outputs:
                if "image/png" in output.get("data", {}):
                    output.setdefault("metadata", {}).setdefault("image/png", {})["alt"] = \
                        cell.metadata["alt"]
    return svgs


def _put_back(body: str, svgs: list[str]) -> str:
    return re.sub(r"@@svg-output-(\d+)@@", lambda match: svgs[int(match.group(1))], body)


def _fold_solutions(soup, merged: bool | None) -> None:
    """Each run of `solution` cells after an exercise goes into one folded <details>; a run
    before any exercise (a note for notebook readers) is left out."""
    cells = soup.find_all("div", class_="cell", recursive=False)
    after_exercise, run = False, []
    for cell in [*cells, None]:
        classes = cell.get("class", []) if cell is not None else []
        if "celltag_solution" in classes:
            run.append(cell)
            continue
        if run:
            if not after_exercise:
                for solution in run:
                    solution.decompose()
            else:
                details = soup.new_tag("details", attrs={"class": "solution"})
                summary = soup.new_tag("summary")
                summary.string = "Worked solution"
                details.append(summary)
                if merged:
                    note = soup.new_tag("p", attrs={"class": "note"})
                    note.string = ("The code only: this build ran the learner's path, without "
                                   "the solutions. Run it in the notebook to see its check.")
                    details.append(note)
                run[0].insert_before(details)
                for solution in run:
                    details.append(solution.extract())
            run = []
        if cell is not None:
            if "celltag_exercise" in classes:
                after_exercise = True
            elif cell.find(["h1", "h2", "h3"]):
                after_exercise = False
    if merged is None and soup.find("div", class_="celltag_exercise"):
        note = soup.new_tag("p", attrs={"class": "note"})
        note.string = ("The worked solutions are in the notebook itself: it changed since this "
                       "build ran it, so they are not shown here.")
        soup.find_all("div", class_="celltag_exercise")[-1].insert_after(note)


def _contain_wide_blocks(soup) -> None:
    """A side-by-side (a table whose cells hold code) splits the width in two columns that
    scroll each; any other output scrolls inside its own block (CSS)."""
    for table in soup.find_all("table"):
        if table.find("pre"):
            table["class"] = [*table.get("class", []), "side-by-side"]


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}"
            f"{HtmlFormatter().get_style_defs('.highlight')}</style></head>"
            f"<body>{body}</body></html>\n")


def _notebook_body(exporter, notebook, source) -> str:
    merged = with_solutions(notebook, source)
    svgs = _prepare(notebook)
    body, _ = exporter.from_notebook_node(notebook)
    soup = BeautifulSoup(body, "html.parser")
    _fold_solutions(soup, merged)
    _contain_wide_blocks(soup)
    # Links between notebooks point at their pages here.
    body = re.sub(r'href="(\d\d_[\w-]+)\.ipynb"', r'href="\1.html"', str(soup))
    return _put_back(body, svgs)


def _readme_sections(path: Path = README) -> tuple[str, str, dict[str, str]]:
    """The README's title, opening paragraph and `## ` sections (markdown)."""
    text = path.read_text(encoding="utf-8")
    head, *parts = re.split(r"^## ", text, flags=re.M)
    lines = head.strip().splitlines()
    title = lines[0].lstrip("# ").strip()
    opening = "\n".join(lines[1:]).strip().split("\n\n")[0]
    sections = {}
    for part in parts:
        name, _, content = part.partition("\n")
        sections[name.strip()] = content.strip()
    return title, opening, sections


def _markdown(text: str, site_dir: Path, base_dir: Path = config.REPO_ROOT) -> str:
    """Markdown (from the README, or a notebook in `base_dir`) as HTML for the site: links to a
    notebook go to its page, other relative links to the file in the repository."""
    def link(match):
        target = match.group(1)
        if re.match(r"[a-z]+:|#", target):
            return match.group(0)
        notebook = re.fullmatch(r"(?:.*/)?(\d\d_[\w-]+)\.ipynb", target)
        if notebook:
            return f"]({notebook.group(1)}.html)"
        return f"]({os.path.relpath(Path(base_dir) / target, site_dir)})"
    return markdown2html(re.sub(r"\]\(([^)\s]+)\)", link, text))


def _time_it_takes(numbers: list[str]) -> str:
    """The workshop plan's minutes for these notebooks, in a sentence."""
    from .workshop import PLAN_FILE  # workshop imports the runner, which imports this module
    if not PLAN_FILE.exists():
        return ""
    entries = {entry["number"]: entry for entry in tomllib.loads(PLAN_FILE.read_text())["notebook"]}
    minutes = sum(entries[n]["teach"] + entries[n]["exercises"] for n in numbers if n in entries)
    missing = [n for n in numbers if n not in entries]
    hours, rest = divmod(round(minutes / 5) * 5, 60)
    rounded = f"{hours} h {rest:02d} min" if hours else f"{rest} minutes"
    return (f"<p>About {rounded} at a workshop's pace ({minutes} minutes: each notebook run "
            "and explained, then its first exercise; the second exercise and your own "
            "experiments take longer)"
            + (f", not counting notebook{'s' * (len(missing) > 1)} {', '.join(missing)}"
               if missing else "") + ".</p>")


def _index(site_dir: Path, notebooks: list, pages: list[str], source_dir: Path) -> str:
    title, opening, sections = _readme_sections()
    numbers = [page[:2] for page in pages]
    intro = [f"<h1>{html.escape(title)}</h1>",
             f'<div class="lead">{_markdown(opening, site_dir)}</div>']
    for name in ("Who it is for", "What you will learn"):
        if name in sections:
            intro.append(f"<h2>{name}</h2>{_markdown(sections[name], site_dir)}")
    intro.append("<h2>How long it takes</h2>" + _time_it_takes(numbers))
    intro.append("<p>This book is the series run once, on the local AWS, with every output. "
                 "Each exercise's worked solution is under it, folded: try the exercise first, "
                 "then open it.</p>")
    contents = "".join(
        f'<li><a href="{page}"><span class="number">{page[:2]}</span>'
        f'{html.escape(_title(notebook).split(" · ", 1)[-1])}</a>'
        f"{_markdown(_opening(notebook), site_dir, source_dir)}</li>"
        for notebook, page in zip(notebooks, pages))
    return "".join(intro) + f'<h2>Contents</h2><ol class="contents">{contents}</ol>'


def build(notebook_dir: Path = BUILD_DIR / "notebooks", site_dir: Path = BUILD_DIR / "site",
          source_dir: Path = SOURCE_DIR) -> Path:
    """Write the site from executed notebooks (and their sources in `source_dir`, for the worked
    solutions); returns the path of its index.html."""
    paths = sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))
    site_dir = Path(site_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    titles = [_title(notebook) for notebook in notebooks]
    pages = [path.with_suffix(".html").name for path in paths]
    exporter = HTMLExporter(template_name="basic", exclude_input_prompt=True,
                            exclude_output_prompt=True)
    for number, (path, notebook, title, page) in enumerate(zip(paths, notebooks, titles, pages)):
        source_path = Path(source_dir) / path.name
        source = nbformat.read(source_path, as_version=4) if source_path.exists() else None
        body = _notebook_body(exporter, copy.deepcopy(notebook), source)
        previous = (f'<a href="{pages[number - 1]}">← {html.escape(titles[number - 1])}</a>'
                    if number else "<span></span>")
        following = (f'<a href="{pages[number + 1]}">{html.escape(titles[number + 1])} →</a>'
                     if number + 1 < len(pages) else "<span></span>")
        nav = f'<nav>{previous}<a href="index.html">Contents</a>{following}</nav>'
        (site_dir / page).write_text(_page(title, nav + body + nav), encoding="utf-8")
    index = site_dir / "index.html"
    index.write_text(_page(_readme_sections()[0],
                           _index(site_dir, notebooks, pages, Path(source_dir))),
                     encoding="utf-8")
    return index
