"""§4 with four Map jobs (plus the two Parallel ones): the execution's wall time against the sum
of the jobs' own training times, on this machine's cores."""
import os
import sys

from _local import fresh_local_aws


def main():
    import helpers
    with fresh_local_aws() as aws:
        helpers.data.upload_split(aws)
        names = helpers.workflows.Names.from_aws(aws)
        arn = helpers.workflows.create_or_update(aws, helpers.workflows.train_multiple(names, aws))
        sets = [{"max_leaf_nodes": leaves} for leaves in ("2", "4", "8", "32")]
        execution = helpers.workflows.start(aws, arn, execution_input={"HyperparameterSets": sets})
        described = helpers.executions.wait(aws, execution)
        assert described["status"] == "SUCCEEDED", described
        result = helpers.executions.output(described)
        jobs = result["ParallelResults"] + result["MapResults"]
        own = sum((job["TrainingEndTime"] - job["TrainingStartTime"]) / 1000 for job in jobs)
        wall = (described["stopDate"] - described["startDate"]).total_seconds()
        print(helpers.executions.timeline(jobs).to_string(index=False))
        print(f"{len(jobs)} jobs on {os.cpu_count()} cores: wall {wall:.2f} s, sum of the jobs' "
              f"own times {own:.2f} s, speed-up {own / wall:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
