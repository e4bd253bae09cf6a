"""Document §2 on the local backend: the time of each execution of notebook 04, and how much of it
is waiting that the Retry policy requires (IntervalSeconds 1, BackoffRate 1.1)."""
import sys

from _local import fresh_local_aws


def main():
    import helpers
    with fresh_local_aws() as aws:
        names = helpers.workflows.Names.from_aws(aws)
        arn = helpers.workflows.create_or_update(
            aws, helpers.workflows.training_retry_notify(names, aws))
        retry = helpers.workflows.RETRY_SAGEMAKER_EXCEPTION
        policy = [retry["interval_seconds"] * retry["backoff_rate"] ** n
                  for n in range(retry["max_attempts"])]
        print(f"{'execution':<28} {'status':<10} {'total s':>8} {'policy wait s':>14} "
              f"{'measured wait s':>16} {'the rest s':>11}")
        for label, rejections, bad_data in (("happy path", 0, False),
                                            ("throttled x3, recovered", 3, False),
                                            ("throttled x6, caught", 6, False),
                                            ("training job fails", 0, True)):
            name = helpers.workflows.new_execution_name("bench")
            with helpers.faults.injected(aws, "CreateTrainingJob", "ThrottlingException",
                                         times=max(rejections, 1),
                                         name_contains=name if rejections else "none"):
                if bad_data:
                    with helpers.data.temporarily_added(aws, "iris_malformed.csv"):
                        execution = helpers.workflows.start(aws, arn, name)
                        described = helpers.executions.wait(aws, execution)
                else:
                    execution = helpers.workflows.start(aws, arn, name)
                    described = helpers.executions.wait(aws, execution)
            total = (described["stopDate"] - described["startDate"]).total_seconds()
            required = sum(policy[:min(rejections, len(policy))])
            measured = helpers.executions.retries(aws, execution)["waited (s)"].sum()
            print(f"{label:<28} {described['status']:<10} {total:>8.2f} {required:>14.2f} "
                  f"{measured:>16.2f} {total - measured:>11.2f}")


if __name__ == "__main__":
    sys.exit(main())
