"""Local endpoint: p50/p99 latency and requests/s of InvokeEndpoint through boto3, against the
same `serve` program (gunicorn + Flask, as in AWS's scikit bring-your-own sample) called directly,
on the same model, sequential one-row requests (goals: p50 <= 2x, throughput >= 0.5x of direct).
The two paths alternate request by request, so both see the same load on the machine.
(AWS's sample also puts nginx in front of gunicorn; that is not measured.)"""
import os
import statistics
import sys
import time
import urllib.request

from _local import HEADER, fresh_local_aws

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "400"))
ROW = b"5.1,3.5,1.4,0.2\n"


def main():
    import helpers
    with fresh_local_aws() as aws:
        helpers.data.upload_split(aws)
        names = helpers.workflows.Names.from_aws(aws)
        arn = helpers.workflows.create_or_update(aws, helpers.workflows.train_and_host(names, aws))
        assert helpers.executions.wait(aws, helpers.workflows.start(aws, arn))[
            "status"] == "SUCCEEDED"
        runtime = aws.client("sagemaker-runtime")
        endpoint = helpers.config.ENDPOINT_NAME
        print(f"{REQUESTS} requests of one CSV row per path, sequential, "
              f"MODEL_SERVER_WORKERS={os.environ.get('TUTORIAL_LOCAL_SERVE_WORKERS', '1')}")
        print(HEADER)
        def invoke():
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv",
                                    Body=ROW)["Body"].read()
        direct_url = serving_url(aws, endpoint)

        def direct():
            request = urllib.request.Request(f"{direct_url}/invocations", data=ROW,
                                             headers={"Content-Type": "text/csv"})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        through, straight = [], []
        for _ in range(20):  # warm up both paths
            invoke(), direct()
        for _ in range(REQUESTS):  # alternate, so both paths see the same load on the machine
            for path, call in ((through, invoke), (straight, direct)):
                began = time.perf_counter()
                call()
                path.append(time.perf_counter() - began)
        for label, path in (("invoke_endpoint via boto3 (local AWS)", through),
                            ("serve directly (gunicorn + Flask)", straight)):
            path.sort()
            print(f"{label:<38} {statistics.median(path) * 1000:>8.1f} "
                  f"{path[int(len(path) * 0.99) - 1] * 1000:>8.1f} {len(path) / sum(path):>10.0f} "
                  f"{0:>7}")
        p50 = statistics.median(through) / statistics.median(straight)
        print(f"local AWS vs direct, {REQUESTS} alternating sequential requests each: p50 "
              f"{p50:.2f}x (goal <= 2x), throughput {sum(straight) / sum(through):.2f}x "
              "(goal >= 0.5x)")
        print("nginx + gunicorn + Flask (AWS's sample with its nginx front): not measured; "
              "this benchmark does not run nginx")
        helpers.hosting.delete_endpoint(aws)


def serving_url(aws, endpoint: str) -> str:
    """The loopback URL of the endpoint's `serve` process: the local AWS names the container's
    log stream <variant>/i-<port>."""
    streams = aws.client("logs").describe_log_streams(
        logGroupName=f"/aws/sagemaker/Endpoints/{endpoint}")["logStreams"]
    return f"http://127.0.0.1:{streams[-1]['logStreamName'].rsplit('-', 1)[1]}"


if __name__ == "__main__":
    sys.exit(main())
