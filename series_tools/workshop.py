"""Workshop copies of the series (`make workshop`, `python -m helpers workshop [DIR]`).

Writes, from the committed notebooks and docs/workshop-plan.toml:
- student/: every notebook without the cells tagged `solution` and without outputs; the
  exercises and the cells where learners answer them stay;
- instructor/: every notebook whole, solutions shown, with the notebook's timing and the points
  where learners usually get stuck in a first cell; PLAN.md, the same for the whole series;
- agenda.html: the day on one printable page (and agenda.md).
"""
from __future__ import annotations

import copy
import html
import json
import shutil
import tomllib
from pathlib import Path

import nbformat

from helpers import config
from . import series

PLAN_FILE = config.REPO_ROOT / "docs" / "workshop-plan.toml"
DEFAULT_DIR = config.REPO_ROOT / "build" / "workshop"
SUMMARY_FILE = config.REPO_ROOT / "build" / "summary.json"


def title(notebook) -> str:
    return notebook.cells[0].source.splitlines()[0].lstrip("# ").strip()


def load_plan(path: Path = PLAN_FILE) -> dict:
    plan = tomllib.loads(path.read_text())
    by_number = {entry["number"]: entry for entry in plan["notebook"]}
    missing = [p.name for p in series.notebooks() if p.name[:2] not in by_number]
    if missing:
        raise ValueError(f"{path.name} has no entry for {', '.join(missing)}")
    return plan


def measured_seconds() -> dict[str, float]:
    """Each notebook's compute time from the last `make tutorial`, if there was one."""
    if not SUMMARY_FILE.exists():
        return {}
    summary = json.loads(SUMMARY_FILE.read_text())
    return {entry["notebook"][:2]: entry["seconds"] for entry in summary["notebooks"]
            if entry["status"] == "ok"}


def student_copy(notebook):
    copied = copy.deepcopy(notebook)
    copied.cells = series.without_solutions(copied.cells)
    for cell in copied.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return copied


def instructor_copy(notebook, entry: dict, seconds: float | None):
    copied = copy.deepcopy(notebook)
    for cell in copied.cells:
        cell.get("metadata", {}).get("jupyter", {}).pop("source_hidden", None)
    copied.cells.insert(0, nbformat.v4.new_markdown_cell(
        "**Instructor notes** (not in the students' copy)\n\n" + _notes(entry, seconds)))
    return copied


def _notes(entry: dict, seconds: float | None) -> str:
    compute = (f"; compute on the local backend {seconds:.0f} s" if seconds is not None else "")
    lines = [f"- Time: {entry['teach']} min to teach and run, {entry['exercises']} min for "
             f"exercise 1 in the room{compute}.", "- Where learners get stuck:"]
    lines += [f"  - {point}" for point in entry["stuck"]]
    return "\n".join(lines)


def in_the_day(plan: dict) -> list[dict]:
    """The notebooks the two-hour day covers; those marked `self_paced` follow it."""
    return [entry for entry in plan["notebook"] if not entry.get("self_paced")]


def self_paced(plan: dict, titles: dict[str, str]) -> list[tuple[str, str, str, int]]:
    """("", number, what, minutes) for the notebooks learners take on after the day."""
    return [("", entry["number"], titles[entry["number"]].split(" · ", 1)[-1],
             entry["teach"] + entry["exercises"])
            for entry in plan["notebook"] if entry.get("self_paced")]


def schedule(plan: dict, titles: dict[str, str]) -> list[tuple[str, str, str, int]]:
    """(start, number, what, minutes) for the day, the break included."""
    rows, minute = [], 0
    for entry in in_the_day(plan):
        length = entry["teach"] + entry["exercises"]
        rows.append((f"{minute // 60}:{minute % 60:02d}", entry["number"],
                     titles[entry["number"]].split(" · ", 1)[-1], length))
        minute += length
        if entry["number"] == plan.get("break_after"):
            rows.append((f"{minute // 60}:{minute % 60:02d}", "", "Break",
                         plan["break_minutes"]))
            minute += plan["break_minutes"]
    rows.append((f"{minute // 60}:{minute % 60:02d}", "", "End", 0))
    return rows


def _html_rows(rows) -> str:
    return "\n".join(
        f"<tr><td>{start}</td><td>{number}</td><td>{html.escape(what)}</td>"
        f"<td>{minutes or ''}</td></tr>" for start, number, what, minutes in rows)


def _agenda_html(plan: dict, rows, later=()) -> str:
    body = _html_rows(rows)
    after = "" if not later else f"""<h2>After the day, at your own pace</h2>
<p>Each builds on the day's notebooks and runs by itself on a fresh kernel.</p>
<table><thead><tr><th></th><th>Notebook</th><th>What</th><th>Minutes</th></tr></thead>
<tbody>
{_html_rows(later)}
</tbody></table>
"""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agenda · {html.escape(plan['title'])}</title>
<style>
  @page {{ size: A4; margin: 18mm; }}
  body {{ font-family: system-ui, sans-serif; max-width: 44em; margin: 2em auto; }}
  table {{ border-collapse: collapse; width: 100%; }}
  td, th {{ border-bottom: 1px solid #ccc; padding: .35em .5em; text-align: left; }}
  td:first-child, td:last-child {{ white-space: nowrap; }}
  @media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>{html.escape(plan['title'])}</h1>
<p>A two-hour workshop on laptops: no AWS account and no Docker needed. Each part: the
instructor runs the notebook with the room, then everyone does its first exercise, which checks
itself (<code>helpers.exercises.check</code>).</p>
<table><thead><tr><th>Start</th><th>Notebook</th><th>What</th><th>Minutes</th></tr></thead>
<tbody>
{body}
</tbody></table>
{after}<p>Before the day: every laptop runs <code>make tutorial</code> once (installs everything and
checks it works). If an experiment goes wrong: <code>helpers.reset(aws, "NN")</code> puts that
notebook back at its start.</p>
</body></html>
"""


def _agenda_markdown(plan: dict, rows, later=()) -> str:
    lines = [f"# Agenda · {plan['title']}", "", "| start | notebook | what | minutes |",
             "|---|---|---|---|"]
    lines += [f"| {start} | {number} | {what} | {minutes or ''} |"
              for start, number, what, minutes in rows]
    if later:
        lines += ["", "## After the day, at your own pace", "", "| notebook | what | minutes |",
                  "|---|---|---|"]
        lines += [f"| {number} | {what} | {minutes} |" for _, number, what, minutes in later]
    return "\n".join(lines) + "\n"


def _plan_markdown(plan: dict, titles: dict[str, str], seconds: dict[str, float]) -> str:
    total = sum(e["teach"] + e["exercises"] for e in in_the_day(plan)) + plan["break_minutes"]
    later = [e["number"] for e in plan["notebook"] if e.get("self_paced")]
    lines = [f"# Instructor's plan · {plan['title']}", "",
             f"{total} minutes in all, a {plan['break_minutes']}-minute break after notebook "
             f"{plan['break_after']}. Compute times are from the last `make tutorial` "
             f"({'build/summary.json' if seconds else 'none yet: run it once to see them'}); "
             "the executed notebooks, with every expected output, are in build/site/ after it."
             + (f" Notebooks {', '.join(later)} are self-paced, after the day (not in the "
                "two hours)." if later else ""),
             ""]
    for entry in plan["notebook"]:
        lines += [f"## {titles[entry['number']]}", "",
                  _notes(entry, seconds.get(entry["number"])), ""]
    return "\n".join(lines)


def build(out_dir: Path = DEFAULT_DIR) -> dict[str, Path]:
    """Write student/, instructor/, PLAN.md and the agenda; returns where each went."""
    plan, seconds = load_plan(), measured_seconds()
    entries = {entry["number"]: entry for entry in plan["notebook"]}
    student, instructor = out_dir / "student", out_dir / "instructor"
    for directory in (student, instructor):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
    titles = {}
    for path in series.notebooks():
        notebook = nbformat.read(path, as_version=4)
        number = path.name[:2]
        titles[number] = title(notebook)
        nbformat.write(student_copy(notebook), student / path.name)
        nbformat.write(instructor_copy(notebook, entries[number], seconds.get(number)),
                       instructor / path.name)
    rows = schedule(plan, titles)
    (instructor / "PLAN.md").write_text(_plan_markdown(plan, titles, seconds))
    later = self_paced(plan, titles)
    (out_dir / "agenda.html").write_text(_agenda_html(plan, rows, later))
    (out_dir / "agenda.md").write_text(_agenda_markdown(plan, rows, later))
    return {"student": student, "instructor": instructor, "plan": instructor / "PLAN.md",
            "agenda": out_dir / "agenda.html"}
