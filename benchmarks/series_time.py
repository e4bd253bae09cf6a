"""The whole series on the local backend, as `make tutorial` runs it (goal <= 60 s on 2 cores).

Prints each notebook's seconds and the total, from a freshly started local AWS.
"""
import os
import sys
import tempfile
import time


def main():
    os.environ["TUTORIAL_BACKEND"] = "local"
    os.environ["TUTORIAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-state-")
    from series_tools import series
    began = time.monotonic()
    code = series.run(out_dir=series.BUILD_DIR / "benchmark-notebooks")
    print(f"whole series, wall time including the local AWS's start and stop: "
          f"{time.monotonic() - began:.1f} s (goal <= 60 s)")
    return code


if __name__ == "__main__":
    sys.exit(main())
