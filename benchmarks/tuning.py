"""An 8-job tuning job (Random search over max_leaf_nodes, 2 at a time) run by notebook 10's
TuningStep: the execution's wall time against the sum of its training jobs' own times (from
their TrainingStartTime to TrainingEndTime), on this machine's cores. Run it on an otherwise
idle machine for figures worth comparing."""
import os
import sys

from _local import fresh_local_aws


def main():
    import helpers
    from helpers import scale_workflows, workflows
    with fresh_local_aws() as aws:
        helpers.data.upload_split(aws)
        names = workflows.Names.from_aws(aws)
        tuned = workflows.workflow("bench-tuning", helpers.sdk.steps.Chain([
            scale_workflows.tuning_step(names, aws, max_jobs=8, max_parallel_jobs=2)]),
            names, aws)
        execution = workflows.start(aws, workflows.create_or_update(aws, tuned))
        described = helpers.executions.wait(aws, execution)
        assert described["status"] == "SUCCEEDED", described
        tuning_job = helpers.executions.output(described)
        jobs = aws.client("sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=tuning_job["HyperParameterTuningJobName"])[
            "TrainingJobSummaries"]
        own = sum((job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
                  for job in jobs)
        wall = (described["stopDate"] - described["startDate"]).total_seconds()
        print(f"{len(jobs)} training jobs of a tuning job, at most 2 at a time, on "
              f"{os.cpu_count()} cores: wall {wall:.2f} s, sum of the jobs' own times "
              f"{own:.2f} s, ratio {own / wall:.2f}x (2.00x would be perfect overlap)")


if __name__ == "__main__":
    sys.exit(main())
