"""What the benchmarks share: a freshly started local AWS with the series' prerequisites, image
and data (stopped again afterwards), and a latency/throughput measurement.

The machine these run on may be shared: compare figures measured side by side in one run (a
ratio), not absolute times from different runs."""
import contextlib
import os
import statistics
import tempfile
import threading
import time

HEADER = f"{'path':<38} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>10} {'errors':>7}"


@contextlib.contextmanager
def fresh_local_aws(**server_environment):
    """A new local AWS (its own state directory) started with `server_environment` set in its
    process (e.g. TUTORIAL_LOCAL_WARM_PROGRAMS="0"); the variables are restored afterwards, so
    two of these with different settings can run side by side."""
    os.environ["TUTORIAL_BACKEND"] = "local"
    os.environ["TUTORIAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-state-")
    saved = {name: os.environ.get(name) for name in server_environment}
    os.environ.update(server_environment)
    import helpers
    from local_aws import control

    try:
        aws = helpers.connect(quiet=True)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    try:
        helpers.rebuild(aws)
        yield aws
    finally:
        control.stop(aws.settings.state_dir)


def measure(label, requests, threads, call) -> dict:
    """Call `call` `requests` times from `threads` threads; print and return p50, p99 (ms),
    req/s and errors."""
    for _ in range(20):
        call()  # warm up
    latencies, lock, errors = [], threading.Lock(), [0]

    def worker(count):
        for _ in range(count):
            started = time.perf_counter()
            try:
                call()
            except Exception:  # noqa: BLE001 - counted, not fatal
                errors[0] += 1
            with lock:
                latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(requests // threads,)) for _ in range(threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()
    figures = {"p50": statistics.median(latencies) * 1000,
               "p99": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
               "rps": len(latencies) / wall, "errors": errors[0]}
    print(f"{label:<38} {figures['p50']:>8.1f} {figures['p99']:>8.1f} {figures['rps']:>10.0f} "
          f"{figures['errors']:>7}", flush=True)
    return figures


# Two local AWSes for a before/after comparison: the programs started as plain new processes (as
# before warm programs) and the default.
PLAIN_AND_DEFAULT = {"plain start": {"TUTORIAL_LOCAL_WARM_PROGRAMS": "0"}, "default": {}}


def side_by_side(prepare, measure_one, runs: int, figure: str, goal: str = "") -> dict:
    """For each of PLAIN_AND_DEFAULT, a fresh local AWS and `prepare(aws)` (a tuple of arguments);
    then `runs` rounds of `measure_one(aws, *arguments)` -> (seconds, text to show), alternating
    between the two so that both see the same load. Prints each round, the medians and their
    ratio; returns the medians."""
    with contextlib.ExitStack() as stack:
        setups = {}
        for kind, environment in PLAIN_AND_DEFAULT.items():
            aws = stack.enter_context(fresh_local_aws(**environment))
            setups[kind] = (aws, *prepare(aws))
        results = {kind: [] for kind in setups}
        print(f"{'run':>4} " + " ".join(f"{kind + ' s':>28}" for kind in setups), flush=True)
        for run in range(runs):
            row = []
            for kind, setup in setups.items():
                seconds, shown = measure_one(*setup)
                results[kind].append(seconds)
                row.append(f"{shown:>28}")
            print(f"{run + 1:>4} " + " ".join(row), flush=True)
    medians = {kind: statistics.median(times) for kind, times in results.items()}
    for kind, median in medians.items():
        print(f"median {figure}, {kind}: {median:.3f} s{goal}")
    print(f"ratio default / plain start: {medians['default'] / medians['plain start']:.2f}")
    return medians
