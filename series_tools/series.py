"""Run the whole series, each notebook on a fresh kernel (`make tutorial`).

Executed copies go to build/notebooks/, a summary (status and seconds per notebook) to
build/summary.json, the executed series as a static web site to build/site/, and progress to the
terminal as it goes.

00-02 build what the rest start from, so they run first, one after another, and 99 (which deletes
everything) runs last. The notebooks in between rebuild what they need in their Setup cell, so
those known to touch only their own resources (INDEPENDENT) run side by side, as many at a time as
there are cores; every other one runs alone. What is printed, the summary and the site stay in
series order whatever order the notebooks finish in.
"""
from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers import config
from . import alt_text, site
from helpers.aws import start_local
from local_aws import control

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
NOTEBOOK_DIR = config.REPO_ROOT / "notebooks"
BUILD_DIR = config.REPO_ROOT / "build"

# Run first, in order (the prerequisites, the image, the data), and last (the clean-up).
FIRST, LAST = ("00", "01", "02"), ("99",)
# Notebooks that may run side by side: each creates and reads only resources of its own (its state
# machines, executions, jobs, models, its endpoint, its S3 keys), and reads the shared training
# data without changing it (06, 07, 10 and 11 upload the same split, byte for byte).
# Not here, so run alone:
# - 04 and 12 put a malformed CSV under the shared training prefix for a while (every notebook's
#   Setup cell lists that prefix, and 03 and 05 train from it) and read the shared alert inbox,
#   which 07 also reads; 12's Choice also asks whether the series' endpoint (07's) exists;
# - any notebook not (yet) listed: independence is a property to check, not to assume.
INDEPENDENT = {"03", "05", "06", "07", "10", "11"}


def notebooks(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9]_*.ipynb"))


OUTPUT_MESSAGES = ("stream", "display_data", "execute_result", "error")


class _EchoingClient(NotebookClient):
    """Also shows, in the terminal, the live status line that helpers.executions.wait() keeps
    updating in the notebook (execution state, training job phase bar, elapsed time), and notes
    when the first output arrived (`first_output_at`, time.monotonic())."""

    first_output_at = None

    def process_message(self, msg, cell, cell_index):
        if self.first_output_at is None and msg.get("msg_type") in OUTPUT_MESSAGES:
            self.first_output_at = time.monotonic()
        content = msg.get("content", {})
        text = content.get("data", {}).get("text/plain", "")
        if msg.get("msg_type") in ("display_data", "update_display_data") and \
                isinstance(text, str) and text.startswith("RUNNING ·"):
            if sys.stdout.isatty():
                print(f"\r  {text[:150]:<150}", end="", flush=True)
            else:  # a log: one line per change of state, not per tick of the clock
                milestone = text.split(" · ", 2)[-1]
                if milestone != getattr(self, "_last_milestone", None):
                    self._last_milestone = milestone
                    print(f"  {text[:200]}", flush=True)
        return super().process_message(msg, cell, cell_index)


def without_solutions(cells: list) -> list:
    """The cells a learner starts from: those tagged `solution` (worked answers) left out."""
    return [cell for cell in cells if "solution" not in cell.get("metadata", {}).get("tags", [])]


def execute(path: Path, out_dir: Path, timeout: int = 600, solutions: bool = True) -> dict:
    """Execute one notebook on a fresh kernel; write the executed copy; return its summary.
    Without `solutions`, the cells tagged `solution` are left out, as a learner would run it."""
    notebook = nbformat.read(path, as_version=4)
    if not solutions:
        notebook.cells = without_solutions(notebook.cells)
    cells = sum(1 for cell in notebook.cells if cell.cell_type == "code")
    done = 0

    def on_cell_executed(**_):
        nonlocal done
        done += 1
        if sys.stdout.isatty():  # a log file gets one line per notebook instead
            print(f"\r  {path.name}: cell {done}/{cells}", end="", flush=True)

    client = _EchoingClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=on_cell_executed,
                            # the kernel's start-up warnings would clutter the terminal;
                            # plots get alt text (for the site)
                            extra_arguments=["--IPKernelApp.log_level=ERROR",
                                             alt_text.KERNEL_ARGUMENT])
    started = time.monotonic()
    result = {"notebook": path.name, "status": "ok"}
    try:
        client.execute()
    except CellExecutionError as error:
        last_line = ANSI_ESCAPE.sub("", str(error)).strip().splitlines()[-1]
        result.update(status="failed", error=last_line[:500])
    except Exception as error:  # noqa: BLE001 - a timeout or dead kernel: report, go on
        result.update(status="failed", error=f"{type(error).__name__}: {error}"[:500])
    result["seconds"] = round(time.monotonic() - started, 1)
    if client.first_output_at is not None:  # kernel start -> first output of any cell
        result["first_output_seconds"] = round(client.first_output_at - started, 2)
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / path.name)
    return result


def _execute_quietly(path: str, out_dir: str, solutions: bool) -> tuple[dict, str]:
    """`execute` in a worker process, its progress lines kept to be printed in series order."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        result = execute(Path(path), Path(out_dir), solutions=solutions)
    return result, captured.getvalue()


def stages(paths: list[Path]) -> list[list[Path]]:
    """The order of the run: lists of notebooks, each list run side by side (bounded by cores),
    one list after the other. FIRST one at a time, then every notebook that must run alone, then
    the INDEPENDENT ones together, then LAST."""
    first = [[p] for p in paths if p.name[:2] in FIRST]
    last = [[p] for p in paths if p.name[:2] in LAST]
    middle = [p for p in paths if p.name[:2] not in FIRST + LAST]
    alone = [[p] for p in middle if p.name[:2] not in INDEPENDENT]
    together = [p for p in middle if p.name[:2] in INDEPENDENT]
    return first + alone + ([together] if together else []) + last


class _InOrder:
    """Prints each notebook's progress and result once every notebook before it is printed."""

    def __init__(self, paths: list[Path]):
        self._paths, self._done, self._next = paths, {}, 0

    def is_next(self, path: Path) -> bool:
        """Whether every notebook before `path` has been printed."""
        return self._paths.index(path) == self._next

    def add(self, path: Path, result: dict, progress: str | None = None):
        """`progress`: what the notebook printed while it ran; None if it printed live."""
        self._done[path] = (result, progress)
        while self._next < len(self._paths) and self._paths[self._next] in self._done:
            shown_path = self._paths[self._next]
            shown, lines = self._done[shown_path]
            if lines is not None:  # a notebook run live printed its header already
                print(f"[{self._next + 1}/{len(self._paths)}] {shown_path.name}", flush=True)
                print(lines, end="", flush=True)
            _print_result(shown)
            self._next += 1


def _print_result(result: dict):
    mark = "ok" if result["status"] == "ok" else "FAILED"
    clear = "\r" if sys.stdout.isatty() else ""
    print(f"{clear}  {result['notebook']}: {mark} in {result['seconds']} s" + " " * 20, flush=True)
    if result["status"] != "ok":
        print(f"  {result['error']}", flush=True)


def run(out_dir: Path = BUILD_DIR / "notebooks", keep_running: bool = False,
        solutions: bool = False, workers: int | None = None) -> int:
    """The learner's path through the series; the exercises' worked solutions (which the tests
    run) only with `solutions`, so that the executed copies and the site give no answers away.
    `workers`: how many notebooks may run side by side (default: the number of cores)."""
    settings = config.settings()
    paths = notebooks()
    workers = max(1, workers or os.cpu_count() or 1)
    print(f"Running {len(paths)} notebooks on the {settings.backend} backend "
          f"(executed copies in {out_dir.relative_to(config.REPO_ROOT)}/"
          f"{', with the exercises solved' if solutions else ''}; up to {workers} side by side)",
          flush=True)
    started_here = False
    if settings.is_local:
        started_here = control.status(settings.state_dir) is None
        start_local(settings)
    began = time.monotonic()
    results: dict[Path, dict] = {}
    printer = _InOrder(paths)
    side_by_side = []
    try:
        # One at a time, the series' own order is the run's.
        for stage in stages(paths) if workers > 1 else [[path] for path in paths]:
            if len(stage) == 1:
                path = stage[0]
                if printer.is_next(path):  # live progress, as it happens
                    print(f"[{paths.index(path) + 1}/{len(paths)}] {path.name}", flush=True)
                    results[path] = execute(path, out_dir, solutions=solutions)
                    printer.add(path, results[path])
                else:  # an earlier notebook is still to be printed: keep this one's lines
                    results[path], progress = _execute_quietly(str(path), str(out_dir),
                                                               solutions)
                    printer.add(path, results[path], progress)
                continue
            side_by_side.append([p.name for p in stage])
            # Fresh interpreters (spawn): a forked copy of this one would share its kernel
            # clients' sockets.
            with ProcessPoolExecutor(min(workers, len(stage)),
                                     mp_context=multiprocessing.get_context("spawn")) as pool:
                futures = {pool.submit(_execute_quietly, str(path), str(out_dir), solutions):
                           path for path in stage}
                for future in as_completed(futures):
                    path = futures[future]
                    results[path], progress = future.result()
                    printer.add(path, results[path], progress)
    finally:
        if started_here and not keep_running:
            control.stop(settings.state_dir)
    total = round(time.monotonic() - began, 1)
    ordered = [results[path] for path in paths if path in results]
    summary = {"backend": settings.backend, "solutions": solutions, "total_seconds": total,
               "notebooks": ordered, "parallel": workers, "side_by_side": side_by_side}
    BUILD_DIR.mkdir(exist_ok=True)
    (BUILD_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    index = site.build(out_dir, BUILD_DIR / "site")
    print(f"The executed series as a web page: {index.relative_to(config.REPO_ROOT)}", flush=True)
    failed = [r["notebook"] for r in ordered if r["status"] != "ok"]
    print(f"{len(ordered) - len(failed)}/{len(ordered)} notebooks ran in {total} s; summary in "
          "build/summary.json" + (f". Failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
