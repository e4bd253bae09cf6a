"""What checking each request's signature costs: the local AWS's WSGI app called directly with
the same signed requests, with the check (as served) and without it (its private switch,
`app.signature_checker = None`, used only here), in one run, interleaved so that other load on
the machine hits both alike. Also the check alone."""
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
PER_ROUND = int(os.environ.get("BENCH_PER_ROUND", "40"))
REGION = "us-east-1"


def signed_environ(credentials, url, method, service, body=b"", headers=None):
    """A WSGI environ for a request signed as boto3 signs it (S3: payload hash in a header)."""
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(credentials.for_botocore(), service, REGION).add_auth(request)
    path = url.split("127.0.0.1", 1)[1].split(":", 1)[1].split("/", 1)
    target = "/" + (path[1] if len(path) > 1 else "")
    environ = {"REQUEST_METHOD": method, "RAW_URI": target, "PATH_INFO": target.split("?")[0],
               "QUERY_STRING": target.partition("?")[2], "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "HTTP_HOST": url.split("/")[2], "CONTENT_LENGTH": str(len(body)),
               "wsgi.errors": sys.stderr, "wsgi.multithread": True,
               "wsgi.multiprocess": False, "wsgi.run_once": False}
    for name, value in request.headers.items():
        value = value.decode() if isinstance(value, bytes) else value
        key = name.upper().replace("-", "_")
        environ[key if key == "CONTENT_TYPE" else "HTTP_" + key] = value
    return environ, body


def call(app, environ, body):
    statuses = []
    chunks = app({**environ, "wsgi.input": io.BytesIO(body)},
                 lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    assert statuses[0].startswith("200"), statuses[0]


def per_request_ms(action, count):
    started = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - started) * 1000 / count


def main():
    from local_aws import LocalAwsServer
    server = LocalAwsServer(state_dir=tempfile.mkdtemp(prefix="bench-auth-"))
    try:
        app, checker, url = server.app, server.app.signature_checker, server.url
        cases = {
            "Step Functions ListStateMachines": signed_environ(
                server.credentials, url + "/", "POST", "states", b"{}",
                {"X-Amz-Target": "AWSStepFunctions.ListStateMachines",
                 "Content-Type": "application/x-amz-json-1.0"}),
            "SageMaker ListTrainingJobs": signed_environ(
                server.credentials, url + "/", "POST", "sagemaker", b"{}",
                {"X-Amz-Target": "SageMaker.ListTrainingJobs",
                 "Content-Type": "application/x-amz-json-1.1"}),
            "S3 PutObject (64 KiB)": signed_environ(
                server.credentials, url + "/bench-bucket/key.csv", "PUT", "s3",
                b"1,2,3,4\n" * 8192),
        }
        create, body = signed_environ(server.credentials, url + "/bench-bucket", "PUT", "s3")
        call(app, create, body)
        print(f"{ROUNDS} rounds x {PER_ROUND} requests per case, interleaved; the machine was "
              f"shared with other work while this ran ({os.cpu_count()} CPUs).")
        print(f"{'request (WSGI app called directly)':<36} {'checked ms':>11} "
              f"{'unchecked ms':>13} {'cost ms':>8} {'check alone ms':>15}")
        for label, (environ, body) in cases.items():
            checked, unchecked, alone = [], [], []

            def served(environ=environ, body=body):
                call(app, environ, body)

            def check_only(environ=environ, body=body):
                checker.check({**environ, "wsgi.input": io.BytesIO(body)})

            for _ in range(5):
                served()  # warm up (the first Step Functions call loads moto's parser)
            for _ in range(ROUNDS):
                app.signature_checker = checker
                checked.append(per_request_ms(served, PER_ROUND))
                app.signature_checker = None
                unchecked.append(per_request_ms(served, PER_ROUND))
                alone.append(per_request_ms(check_only, PER_ROUND))
            app.signature_checker = checker
            with_check, without = statistics.median(checked), statistics.median(unchecked)
            print(f"{label:<36} {with_check:>11.3f} {without:>13.3f} "
                  f"{with_check - without:>8.3f} {statistics.median(alone):>15.3f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
