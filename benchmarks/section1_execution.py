"""The document's §1 workflow (one training job), StartExecution -> SUCCEEDED (goal <= 0.5 s).

Two local AWSes run side by side: one starting each job's `train` program as a plain new process
(TUTORIAL_LOCAL_WARM_PROGRAMS=0, as before warm programs) and one with the default (a warm,
forked interpreter per image). Executions alternate between them, so both see the same load on
the machine; the ratio of their medians is the figure to compare across machines.
"""
import os
import statistics
import sys
import time
from contextlib import ExitStack

from _local import fresh_local_aws

RUNS = int(os.environ.get("BENCH_RUNS", "7"))


def one_execution(aws, arn) -> tuple[float, float]:
    """(StartExecution -> SUCCEEDED seconds as the client sees it, the Training phase)."""
    import helpers
    sfn, sagemaker = aws.client("stepfunctions"), aws.client("sagemaker")
    began = time.perf_counter()
    execution = helpers.workflows.start(aws, arn)
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        time.sleep(0.01)
    seen = time.perf_counter() - began
    assert described["status"] == "SUCCEEDED", described
    job = sagemaker.describe_training_job(
        TrainingJobName=f"sagemaker-bring-your-own-{described['name']}")
    training = next(t for t in job["SecondaryStatusTransitions"] if t["Status"] == "Training")
    return seen, (training["EndTime"] - training["StartTime"]).total_seconds()


def main():
    import helpers
    kinds = {"plain start": {"TUTORIAL_LOCAL_WARM_PROGRAMS": "0"}, "default": {}}
    with ExitStack() as stack:
        setups = {}
        for kind, environment in kinds.items():
            aws = stack.enter_context(fresh_local_aws(**environment))
            names = helpers.workflows.Names.from_aws(aws)
            setups[kind] = (aws, helpers.workflows.create_or_update(
                aws, helpers.workflows.training(names, aws)))
        for aws, arn in setups.values():
            one_execution(aws, arn)  # the first job of each server prepares what it keeps
        results = {kind: [] for kind in kinds}
        print(f"{'run':>4} " + " ".join(f"{kind + ' s':>16} {'(train phase)':>14}"
                                         for kind in kinds))
        for run in range(RUNS):
            row = []
            for kind, (aws, arn) in setups.items():
                seen, program = one_execution(aws, arn)
                results[kind].append(seen)
                row.append(f"{seen:>16.3f} {program:>14.3f}")
            print(f"{run + 1:>4} " + " ".join(row), flush=True)
        medians = {kind: statistics.median(times) for kind, times in results.items()}
        for kind, median in medians.items():
            print(f"median StartExecution -> SUCCEEDED, {kind}: {median:.3f} s (goal <= 0.5 s)")
        print(f"ratio default / plain start: {medians['default'] / medians['plain start']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
