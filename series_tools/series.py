"""Run the whole series: every notebook in order, each on a fresh kernel (`make tutorial`).

Executed copies go to build/notebooks/, a summary (status and seconds per notebook) to
build/summary.json, the executed series as a static web site to build/site/, and progress to the
terminal as it goes.
"""
from __future__ import annotations

import json
import re
import sys
import time
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


def run(out_dir: Path = BUILD_DIR / "notebooks", keep_running: bool = False,
        solutions: bool = False) -> int:
    """The learner's path through the series; the exercises' worked solutions (which the tests
    run) only with `solutions`, so that the executed copies and the site give no answers away."""
    settings = config.settings()
    paths = notebooks()
    print(f"Running {len(paths)} notebooks on the {settings.backend} backend "
          f"(executed copies in {out_dir.relative_to(config.REPO_ROOT)}/"
          f"{', with the exercises solved' if solutions else ''})", flush=True)
    started_here = False
    if settings.is_local:
        started_here = control.status(settings.state_dir) is None
        start_local(settings)
    began = time.monotonic()
    results = []
    try:
        for number, path in enumerate(paths, start=1):
            print(f"[{number}/{len(paths)}] {path.name}", flush=True)
            result = execute(path, out_dir, solutions=solutions)
            results.append(result)
            mark = "ok" if result["status"] == "ok" else "FAILED"
            clear = "\r" if sys.stdout.isatty() else ""
            print(f"{clear}  {path.name}: {mark} in {result['seconds']} s" + " " * 20, flush=True)
            if result["status"] != "ok":
                print(f"  {result['error']}", flush=True)
    finally:
        if started_here and not keep_running:
            control.stop(settings.state_dir)
    total = round(time.monotonic() - began, 1)
    summary = {"backend": settings.backend, "solutions": solutions, "total_seconds": total,
               "notebooks": results}
    BUILD_DIR.mkdir(exist_ok=True)
    (BUILD_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    index = site.build(out_dir, BUILD_DIR / "site")
    print(f"The executed series as a web page: {index.relative_to(config.REPO_ROOT)}", flush=True)
    failed = [r["notebook"] for r in results if r["status"] != "ok"]
    print(f"{len(results) - len(failed)}/{len(results)} notebooks ran in {total} s; summary in "
          "build/summary.json" + (f". Failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run())
