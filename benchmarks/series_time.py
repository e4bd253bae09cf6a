"""The whole series on the local backend, as `make tutorial` runs it (goal <= 60 s on 2 cores):
each notebook's seconds, kernel start -> first output, and the total, from build/summary.json.

    python benchmarks/series_time.py          # the figures of the last `make tutorial`
    python benchmarks/series_time.py --run    # run the series first (on a fresh local AWS)

If there is no build/summary.json yet, it says so (run `make tutorial` or --run); it does not
run the series on its own, because that takes minutes.
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SUMMARY = REPO_ROOT / "build" / "summary.json"


def run_series():
    os.environ["TUTORIAL_BACKEND"] = "local"
    os.environ["TUTORIAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-state-")
    sys.path.insert(0, str(REPO_ROOT))
    from series_tools import series
    began = time.monotonic()
    code = series.run(out_dir=series.BUILD_DIR / "benchmark-notebooks")
    print(f"whole series, wall time including the local AWS's start and stop: "
          f"{time.monotonic() - began:.1f} s (goal <= 60 s)")
    return code


def report(summary: dict):
    print(f"{'notebook':<40} {'seconds':>8} {'first output s':>15}")
    for notebook in summary["notebooks"]:
        first = notebook.get("first_output_seconds")
        print(f"{notebook['notebook']:<40} {notebook['seconds']:>8.1f} "
              f"{'-' if first is None else f'{first:.2f}':>15}"
              + ("" if notebook["status"] == "ok" else "  FAILED"))
    busy = sum(n["seconds"] for n in summary["notebooks"])
    print(f"series (build/summary.json total_seconds): {summary['total_seconds']:.1f} s "
          f"(goal <= 60 s, stretch 30 s); notebooks' own seconds add up to {busy:.1f} s"
          + (f"; {summary['parallel']} side by side" if summary.get("parallel") else ""))


def main():
    code = run_series() if "--run" in sys.argv[1:] else 0
    if not SUMMARY.exists():
        print("no build/summary.json: run `make tutorial` (or this script with --run) first")
        return code
    report(json.loads(SUMMARY.read_text()))
    return code


if __name__ == "__main__":
    sys.exit(main())
