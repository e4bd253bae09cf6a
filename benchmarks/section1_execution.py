"""The document's §1 workflow (one training job), StartExecution -> SUCCEEDED (goal <= 0.5 s).

Two local AWSes run side by side: one starting each job's `train` program as a plain new process
(TUTORIAL_LOCAL_WARM_PROGRAMS=0, as before warm programs) and one with the default (a warm,
forked interpreter per image). Executions alternate between them, so both see the same load on
the machine; the ratio of their medians is the figure to compare across machines.
"""
import os
import sys
import time

from _local import side_by_side

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

    def prepare(aws):
        names = helpers.workflows.Names.from_aws(aws)
        arn = helpers.workflows.create_or_update(aws, helpers.workflows.training(names, aws))
        one_execution(aws, arn)  # the first job of each server prepares what it keeps
        return (arn,)

    def measure_one(aws, arn):
        seen, program = one_execution(aws, arn)
        return seen, f"{seen:.3f} (train phase {program:.3f})"

    side_by_side(prepare, measure_one, RUNS, "StartExecution -> SUCCEEDED", " (goal <= 0.5 s)")


if __name__ == "__main__":
    sys.exit(main())
