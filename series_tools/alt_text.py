"""Alt text for the series' plots: each matplotlib figure a notebook shows gets a sentence that
says what it shows (its title, kind, series and axes), stored with the image in the executed
notebook (`metadata["image/png"]["alt"]`, which nbconvert writes as the `<img>`'s alt), so that
the site's figures have alt text without anyone writing it by hand. A cell's own `alt` metadata
(nbconvert's convention) still wins.

The series runner starts every kernel with `register()` (IPython's `exec_lines`). matplotlib's
inline backend (re)installs its PNG formatter for figures when a notebook first plots; `register`
adds a post-execute callback that wraps whichever formatter is installed, and since it is
registered before the backend's own callback that shows the cell's figures, the wrap is in place
when they are shown.
"""
from __future__ import annotations

import sys


def describe(figure) -> str:
    """A sentence per chart: `Bar chart "Accuracy per model" (horizontal bars): train:accuracy,
    validation:accuracy for each job (job-a, job-b); x axis 0 to 1.05.`"""
    sentences = []
    for axes in figure.get_axes():
        bars = [c for c in axes.containers if type(c).__name__ == "BarContainer"]
        kind = ("Bar chart" if bars else "Line chart" if axes.lines else
                "Scatter plot" if axes.collections else "Image" if axes.images else None)
        if kind is None:
            continue  # a colour bar or an empty panel
        orientation = getattr(bars[0], "orientation", "") if bars else ""
        title = axes.get_title() or (figure._suptitle.get_text() if figure._suptitle else "")
        sentence = (kind + (f' "{title}"' if title else "")
                    + (f" ({orientation} bars)" if orientation else ""))
        series = [label for label in axes.get_legend_handles_labels()[1] if label]
        if series:
            sentence += ": " + ", ".join(series)
        horizontal = orientation == "horizontal"
        categories_axis, values_axis = ((axes.yaxis, axes.xaxis) if horizontal
                                        else (axes.xaxis, axes.yaxis))
        categories = [tick.get_text() for tick in categories_axis.get_ticklabels()
                      if tick.get_text()]
        if not bars and axes.get_xlabel():
            sentence += f" against {axes.get_xlabel()}"
        if bars and categories:
            name = categories_axis.get_label().get_text() or "bar"
            sentence += (f" for each {name} ({', '.join(categories[:8])}"
                         + (", ..." if len(categories) > 8 else "") + ")")
        low, high = axes.get_xlim() if horizontal else axes.get_ylim()
        label = values_axis.get_label().get_text()
        sentence += (f"; {'x' if horizontal else 'y'} axis{f' ({label})' if label else ''} "
                     f"{low:g} to {high:g}.")
        sentences.append(sentence)
    return " ".join(sentences) or "A figure without charts."


def _with_alt_text(printer):
    def print_with_alt_text(figure):
        data = printer(figure)
        if isinstance(data, tuple):  # already (data, metadata)
            data, metadata = data
        else:
            metadata = {}
        return (data, {**(metadata or {}), "alt": describe(figure)}) if data else data
    print_with_alt_text.adds_alt_text = True
    return print_with_alt_text


def _wrap_figure_formatter(shell) -> None:
    if "matplotlib.figure" not in sys.modules:
        return  # nothing plotted yet
    from matplotlib.figure import Figure
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        printer = formatter.lookup_by_type(Figure)
    except KeyError:
        return
    if not getattr(printer, "adds_alt_text", False):
        formatter.for_type(Figure, _with_alt_text(printer))


def register(shell=None) -> None:
    """Give the figures this IPython kernel shows alt text (see the module's docstring)."""
    if shell is None:
        from IPython import get_ipython
        shell = get_ipython()
    shell.events.register("post_execute", lambda: _wrap_figure_formatter(shell))


KERNEL_ARGUMENT = ("--IPKernelApp.exec_lines="
                   "import series_tools.alt_text as _alt_text; _alt_text.register(); del _alt_text")
