"""A Distributed Map over 100 items read from a CSV in S3 (each child execution a Pass state),
with its results written to S3: the execution's wall time and the local AWS's peak memory
(resident set size of the server process, sampled every 10 ms). Run it on an otherwise idle
machine for figures worth comparing."""
import json
import sys
import threading
import time

import psutil
from _local import fresh_local_aws

ITEMS = 100


def main():
    import helpers
    from helpers import scale_workflows, workflows
    from local_aws import control
    with fresh_local_aws() as aws:
        names = workflows.Names.from_aws(aws)
        key = scale_workflows.MANY_MODELS_PREFIX + "bench-items.csv"
        aws.client("s3").put_object(Bucket=aws.bucket, Key=key, Body=(
            "item,size\n" + "".join(f"{i},{i % 7}\n" for i in range(ITEMS))).encode())
        state = {"Type": "Map", "MaxConcurrency": 0, "ToleratedFailurePercentage": 0,
                 "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                "ReaderConfig": {"InputType": "CSV",
                                                 "CSVHeaderLocation": "FIRST_ROW"},
                                "Parameters": {"Bucket": aws.bucket, "Key": key}},
                 "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                                       "ExecutionType": "STANDARD"},
                                   "StartAt": "Echo",
                                   "States": {"Echo": {"Type": "Pass", "End": True}}},
                 "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                  "Parameters": {"Bucket": aws.bucket,
                                                 "Prefix": scale_workflows.RESULTS_PREFIX}}}
        flow = workflows.workflow("bench-distributed-map", helpers.sdk.steps.Chain([
            scale_workflows.RawState("Each item", state)]), names, aws)
        arn = workflows.create_or_update(aws, flow)
        server = psutil.Process(control.status(aws.settings.state_dir).pid)
        baseline = server.memory_info().rss
        peak, done = [baseline], threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], server.memory_info().rss)
                time.sleep(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        execution = workflows.start(aws, arn)
        described = helpers.executions.wait(aws, execution)
        wall = time.perf_counter() - began
        done.set()
        sampler.join()
        assert described["status"] == "SUCCEEDED", described
        results = scale_workflows.map_run_results(aws, described)
        assert len(results["SUCCEEDED"]) == ITEMS, {k: len(v) for k, v in results.items()}
        print(json.dumps({"items": ITEMS, "wall_seconds": round(wall, 2),
                          "server_rss_before_mb": round(baseline / 2**20, 1),
                          "server_rss_peak_mb": round(peak[0] / 2**20, 1)}))


if __name__ == "__main__":
    sys.exit(main())
