"""10 concurrent §1 executions: wall time and the local AWS's peak memory (server plus the
programs it runs); then a burst of 500 InvokeEndpoint requests from 5 threads: requests/s, p99
latency and errors."""
import sys
import threading
import time

import psutil

from _local import HEADER, fresh_local_aws, measure


def tree_rss(pid: int) -> int:
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return total


def main():
    import helpers
    from local_aws import control
    with fresh_local_aws() as aws:
        pid = control.status(aws.settings.state_dir).pid
        names = helpers.workflows.Names.from_aws(aws)
        arn = helpers.workflows.create_or_update(aws, helpers.workflows.training(names, aws))
        peak, done = tree_rss(pid), False

        def sample():
            nonlocal peak
            while not done:
                peak = max(peak, tree_rss(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        began = time.monotonic()
        executions = [helpers.workflows.start(aws, arn) for _ in range(10)]
        statuses = [aws.client("stepfunctions").describe_execution(executionArn=e)["status"]
                    for e in executions]
        while "RUNNING" in statuses:
            time.sleep(0.1)
            statuses = [aws.client("stepfunctions").describe_execution(executionArn=e)["status"]
                        for e in executions]
        wall = time.monotonic() - began
        done = True
        sampler.join()
        print(f"10 concurrent §1 executions: {statuses.count('SUCCEEDED')} SUCCEEDED, wall "
              f"{wall:.1f} s, peak memory of the local AWS and its programs "
              f"{peak / 2**20:.0f} MiB (at most {psutil.cpu_count()} training programs at once)")

        helpers.data.upload_split(aws)
        host = helpers.workflows.create_or_update(aws, helpers.workflows.train_and_host(names, aws))
        assert helpers.executions.wait(aws, helpers.workflows.start(aws, host))[
            "status"] == "SUCCEEDED"
        runtime = aws.client("sagemaker-runtime")
        print(HEADER)
        measure("burst: 500 requests from 5 threads", 500, 5,
                lambda: runtime.invoke_endpoint(EndpointName=helpers.config.ENDPOINT_NAME,
                                                ContentType="text/csv",
                                                Body=b"5.1,3.5,1.4,0.2\n")["Body"].read())
        helpers.hosting.delete_endpoint(aws)


if __name__ == "__main__":
    sys.exit(main())
