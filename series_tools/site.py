"""The executed series as a static web site: build/site/index.html and one page per notebook, with
contents and previous/next links. Everything is inline (styles, graphs as SVG, plots as data
URIs) and there is no JavaScript, so it opens offline in any browser, without Jupyter.

nbconvert's full templates load require.js and MathJax from a CDN; the `basic` template gives the
cells alone, which this wraps in a page of its own.
"""
from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from pygments.formatters import HtmlFormatter

from helpers import config

BUILD_DIR = config.REPO_ROOT / "build"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.5; }
nav { display: flex; justify-content: space-between; margin: 1em 0; padding: .5em 0;
      border-top: 1px solid #ddd; border-bottom: 1px solid #ddd; }
a { color: #0b5cad; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: 85%; }
.jp-InputArea pre { border-left: 3px solid #0b5cad; }
.jp-OutputArea pre { background: #fff; border-left: 3px solid #ccc; }
table { border-collapse: collapse; font-size: 85%; } td, th { border: 1px solid #ddd;
padding: 2px 6px; }
.jp-InputPrompt, .jp-OutputPrompt, .jp-InputArea-prompt, .jp-OutputArea-prompt { display: none; }
"""


def _title(notebook) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Untitled"


_SVG_IMAGE = re.compile(r'<img[^>]*src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"[^>]*>')


def _inline_svg(body: str) -> str:
    """nbconvert writes SVG outputs as base64 <img>s; inline them, so that a graph is part of the
    page (selectable text, inspectable states) rather than an opaque picture."""
    return _SVG_IMAGE.sub(lambda m: base64.b64decode(m.group(1)).decode("utf-8"), body)


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}"
            f"{HtmlFormatter().get_style_defs('.highlight')}</style></head>"
            f"<body>{body}</body></html>\n")


def build(notebook_dir: Path = BUILD_DIR / "notebooks", site_dir: Path = BUILD_DIR / "site",
          ) -> Path:
    """Write the site from executed notebooks; returns the path of its index.html."""
    paths = sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))
    site_dir = Path(site_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    notebooks = [nbformat.read(path, as_version=4) for path in paths]
    titles = [_title(notebook) for notebook in notebooks]
    pages = [path.with_suffix(".html").name for path in paths]
    exporter = HTMLExporter(template_name="basic")
    for number, (notebook, title, page) in enumerate(zip(notebooks, titles, pages)):
        body, _ = exporter.from_notebook_node(notebook)
        body = _inline_svg(body)
        # Links between notebooks point at their pages here.
        body = re.sub(r'href="(\d\d_[\w-]+)\.ipynb"', r'href="\1.html"', body)
        previous = (f'<a href="{pages[number - 1]}">← {html.escape(titles[number - 1])}</a>'
                    if number else "<span></span>")
        following = (f'<a href="{pages[number + 1]}">{html.escape(titles[number + 1])} →</a>'
                     if number + 1 < len(pages) else "<span></span>")
        nav = f'<nav>{previous}<a href="index.html">Contents</a>{following}</nav>'
        (site_dir / page).write_text(_page(title, nav + body + nav), encoding="utf-8")
    contents = "".join(f'<li><a href="{page}">{html.escape(title)}</a></li>'
                       for page, title in zip(pages, titles))
    index = site_dir / "index.html"
    index.write_text(_page("Orchestrating SageMaker with Step Functions",
                           "<h1>Orchestrating SageMaker with Step Functions</h1>"
                           f"<p>The executed notebook series.</p><ol>{contents}</ol>"),
                     encoding="utf-8")
    return index
