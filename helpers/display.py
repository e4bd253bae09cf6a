"""Showing things as they change: one status line, updated in place in a notebook, printed on
change in a terminal (so `make tutorial` shows progress too)."""
from __future__ import annotations

import html
import inspect
import json
import sys


def configure_tables():
    """Show ARNs, S3 URIs and error causes whole in tables (pandas cuts cells at 50 characters)."""
    import pandas as pd
    pd.set_option("display.max_colwidth", 200)
    pd.set_option("display.width", 200)


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class StatusLine:
    """In a notebook the line is redrawn on every update; in a terminal (or a log) it is printed
    only when `milestone` (what changed, without the clock) changes."""

    def __init__(self):
        self._last_milestone = None
        self._handle = None
        if in_notebook():
            from IPython.display import display
            self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def update(self, text: str, milestone: str | None = None):
        if self._handle is not None:
            self._handle.update({"text/plain": text}, raw=True)
            return
        milestone = text if milestone is None else milestone
        if milestone != self._last_milestone:
            self._last_milestone = milestone
            print(text, file=sys.stderr, flush=True)


def as_json(value) -> str:
    """Pretty JSON for a notebook cell's output."""
    return json.dumps(value, indent=2, default=str)


class Json:
    """A value shown as indented JSON (instead of a one-line dict repr) when a cell ends on it."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return as_json(self.value)


class SideBySide:
    """Two texts side by side, by default Python on the left and the ASL it produces on the right
    (HTML in a notebook, text elsewhere); a dict is shown as JSON."""

    def __init__(self, left, right,
                 titles: tuple[str, str] = ("Python (stepfunctions SDK)", "Amazon States Language")):
        self.left, self.right = (value if isinstance(value, str) else as_json(value)
                                 for value in (left, right))
        self.titles = titles

    def _repr_html_(self):
        cell = ('<td style="vertical-align:top;text-align:left"><b>{}</b>'
                '<pre style="font-size:85%">{}</pre></td>')
        return ("<table><tr>" + "".join(cell.format(html.escape(title), html.escape(text))
                                        for title, text in zip(self.titles, (self.left, self.right)))
                + "</tr></table>")

    def __repr__(self):
        return f"# {self.titles[0]}\n{self.left}\n# {self.titles[1]}\n{self.right}"


class Collapsed:
    """A long value folded under a one-line summary (HTML `<details>` in a notebook and on the
    site; the whole text, after the summary, elsewhere). A dict or list is shown as JSON."""

    def __init__(self, value, summary: str):
        self.text = value if isinstance(value, str) else as_json(value)
        self.summary = f"{summary} ({len(self.text.splitlines())} lines)"

    def _repr_html_(self):
        return (f"<details><summary>{html.escape(self.summary)}</summary>"
                f'<pre style="font-size:85%">{html.escape(self.text)}</pre></details>')

    def __repr__(self):
        return f"{self.summary}:\n{self.text}"


def source(function) -> str:
    """A function's source code, to show how a helper builds something."""
    return inspect.getsource(function)


class Collapsible:
    """A long value folded under a one-line summary: a `<details>` block to open in a notebook
    (and in the book); in text, the summary then the whole value. Values of at most
    `fold_above` lines are shown open."""

    def __init__(self, value, summary: str, fold_above: int = 30):
        self.text = value if isinstance(value, str) else as_json(value)
        self.summary, self.fold_above = summary, fold_above

    @property
    def lines(self) -> int:
        return len(self.text.splitlines())

    def _repr_html_(self):
        state = " open" if self.lines <= self.fold_above else ""
        return (f"<details{state}><summary>{html.escape(self.summary)} ({self.lines} lines)"
                f"</summary><pre style=\"font-size:85%\">{html.escape(self.text)}</pre>"
                "</details>")

    def __repr__(self):
        return f"{self.summary} ({self.lines} lines)\n{self.text}"
