"""§1 execution: start -> SUCCEEDED, minus the train program's own run time (goal <= 0.3 s).

Runs the document's §1 workflow several times on a fresh local AWS (in this process) and prints,
per run, the execution's duration, the Training phase of its job (the `train` program's run),
and the difference: what Step Functions + the local SageMaker add.
"""
import os
import statistics
import sys
import time

from _local import fresh_local_aws

RUNS = int(os.environ.get("BENCH_RUNS", 5))


def main():
    import helpers
    with fresh_local_aws() as aws:
        names = helpers.workflows.Names.from_aws(aws)
        arn = helpers.workflows.create_or_update(aws, helpers.workflows.training(names, aws))
        sfn, sagemaker = aws.client("stepfunctions"), aws.client("sagemaker")
        overheads = []
        print(f"{'run':>4} {'execution s':>12} {'train program s':>16} {'overhead s':>11}")
        for run in range(RUNS):
            execution = helpers.workflows.start(aws, arn)
            while (described := sfn.describe_execution(executionArn=execution))[
                    "status"] == "RUNNING":
                time.sleep(0.02)
            assert described["status"] == "SUCCEEDED", described
            total = (described["stopDate"] - described["startDate"]).total_seconds()
            job = sagemaker.describe_training_job(
                TrainingJobName=f"sagemaker-bring-your-own-{described['name']}")
            training = next(t for t in job["SecondaryStatusTransitions"]
                            if t["Status"] == "Training")
            program = (training["EndTime"] - training["StartTime"]).total_seconds()
            overheads.append(total - program)
            print(f"{run + 1:>4} {total:>12.3f} {program:>16.3f} {total - program:>11.3f}")
        print(f"median overhead: {statistics.median(overheads):.3f} s "
              f"(goal <= 0.3 s; moto's own .sync poll interval is 0.5 s)")


if __name__ == "__main__":
    sys.exit(main())
