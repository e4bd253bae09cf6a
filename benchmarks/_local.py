"""What the benchmarks share: a freshly started local AWS with the series' prerequisites, image
and data (stopped again afterwards), and a latency/throughput measurement."""
import contextlib
import os
import statistics
import tempfile
import threading
import time

HEADER = f"{'path':<38} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>10} {'errors':>7}"


@contextlib.contextmanager
def fresh_local_aws():
    os.environ["TUTORIAL_BACKEND"] = "local"
    os.environ["TUTORIAL_STATE_DIR"] = tempfile.mkdtemp(prefix="bench-state-")
    import helpers
    from local_aws import control

    aws = helpers.connect(quiet=True)
    try:
        helpers.rebuild(aws)
        yield aws
    finally:
        control.stop(aws.settings.state_dir)


def measure(label, requests, threads, call):
    """Call `call` `requests` times from `threads` threads; print p50, p99, req/s, errors."""
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
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    print(f"{label:<38} {p50:>8.1f} {p99:>8.1f} {len(latencies) / wall:>10.0f} {errors[0]:>7}")
