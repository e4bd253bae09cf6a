"""The local AWS answers only requests signed with its own key pair, as AWS answers strangers.

AWS's answers, by protocol (see local_aws/auth.py for the pages): unknown key -> JSON protocols
`UnrecognizedClientException`, query protocols `InvalidClientTokenId`, S3 `InvalidAccessKeyId`
(all HTTP 403, https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html); right key, wrong signature
-> `SignatureDoesNotMatch`, 403
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html).
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_aws import auth, control
from local_aws.moto_hooks import credentials as interpreter_credentials
from tests.conftest import BUCKET, REGION, REPO, run_state_machine

DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
NO_RETRIES = Config(retries={"total_max_attempts": 1}, inject_host_prefix=False)


def client(server, service, credentials=None, config=NO_RETRIES):
    keys = credentials or server.credentials.for_boto3()
    return boto3.Session(region_name=REGION, **keys).client(
        service, endpoint_url=server.url, config=config)


def refusal(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as refused:
        call()
    response = refused.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


CALLS = {
    "s3": lambda c: c.list_buckets(),
    "stepfunctions": lambda c: c.list_state_machines(),
    "sagemaker": lambda c: c.list_training_jobs(),
    "logs": lambda c: c.describe_log_groups(),
    "ecr": lambda c: c.describe_repositories(),
    "iam": lambda c: c.list_roles(),
    "sns": lambda c: c.list_topics(),
    "sts": lambda c: c.get_caller_identity(),
}
UNKNOWN_KEY_ERRORS = {"s3": "InvalidAccessKeyId", "stepfunctions": "UnrecognizedClientException",
                      "sagemaker": "UnrecognizedClientException",
                      "logs": "UnrecognizedClientException", "ecr": "UnrecognizedClientException",
                      "iam": "InvalidClientTokenId", "sns": "InvalidClientTokenId",
                      "sts": "InvalidClientTokenId"}


@pytest.mark.parametrize("service", sorted(CALLS))
def test_the_usual_dummy_keys_are_refused_as_aws_refuses_unknown_keys(server, service):
    assert refusal(lambda: CALLS[service](client(server, service, DUMMY))) == (
        UNKNOWN_KEY_ERRORS[service], 403)
    CALLS[service](client(server, service))  # and the server's own keys are served


def _tamper_signature(request, **_):
    header = request.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    flipped = "0" if header[-1] != "0" else "1"
    request.headers["Authorization"] = header[:-1] + flipped


@pytest.mark.parametrize("service", ["s3", "stepfunctions", "sagemaker", "iam", "sns"])
def test_a_tampered_signature_is_refused_with_signature_does_not_match(server, service):
    tampered = client(server, service)
    tampered.meta.events.register_last("before-send", _tamper_signature)
    assert refusal(lambda: CALLS[service](tampered)) == ("SignatureDoesNotMatch", 403)
    wrong_secret = {"aws_access_key_id": server.credentials.access_key_id,
                    "aws_secret_access_key": "not-the-secret"}
    assert refusal(lambda: CALLS[service](client(server, service, wrong_secret))) == (
        "SignatureDoesNotMatch", 403)


def test_a_body_changed_after_signing_is_refused(server):
    def swap_body(request, **_):
        request.body = request.body.replace(b'"maxResults": 5', b'"maxResults": 6')

    sfn = client(server, "stepfunctions")
    sfn.meta.events.register_last("before-send", swap_body)
    assert refusal(lambda: sfn.list_state_machines(maxResults=5)) == (
        "SignatureDoesNotMatch", 403)


def test_an_s3_body_that_does_not_match_its_signed_hash_is_refused(aws, server):
    def swap_body(request, **_):
        request.body = b"tampered"  # same length; x-amz-content-sha256 names the original

    s3 = client(server, "s3")
    s3.meta.events.register_last("before-send", swap_body)
    assert refusal(lambda: s3.put_object(Bucket=BUCKET, Key="auth/tampered",
                                         Body=b"original")) == ("XAmzContentSHA256Mismatch", 400)


def _get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_admin_api_answers_signed_requests_only(server):
    faults = f"{server.url}/_tutorial/faults"
    status, body = _get(faults)
    assert (status, json.loads(body)["__type"]) == (403, "MissingAuthenticationToken")
    stranger = auth.LocalCredentials("testing", "testing")
    status, body = _get(faults, auth.signed_headers(stranger, "GET", faults))
    assert (status, json.loads(body)["__type"]) == (403, "UnrecognizedClientException")
    status, body = _get(faults, auth.signed_headers(server.credentials, "GET", faults))
    assert (status, json.loads(body)) == (200, {"faults": []})
    # moto's own dashboard and state dump (/moto-api/...) are closed too.
    status, _ = _get(f"{server.url}/moto-api/data.json")
    assert status == 403


def test_the_open_health_check_reveals_nothing(server):
    health = f"{server.url}/_tutorial/health"
    assert _get(health) == (200, b'{"status": "ok"}')
    status, body = _get(health, auth.signed_headers(server.credentials, "GET", health))
    assert status == 200 and json.loads(body)["instance"] == server.instance


def test_presigned_urls_work_until_they_expire(aws, server):
    aws("s3").put_object(Bucket=BUCKET, Key="auth/presigned.txt", Body=b"shared")
    params = {"Bucket": BUCKET, "Key": "auth/presigned.txt"}
    # boto3's default for S3 presigned URLs here is Signature Version 2; s3v4 is Version 4.
    for config in (NO_RETRIES, Config(signature_version="s3v4")):
        s3 = client(server, "s3", config=config)
        url = s3.generate_presigned_url("get_object", Params=params)
        assert _get(url) == (200, b"shared")
        status, body = _get(url.replace("presigned.txt", "other.txt"))
        assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body
        short = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
        time.sleep(2.1)
        status, body = _get(short)
        assert status == 403 and b"Request has expired" in body, body


@pytest.mark.parametrize("minutes, allowed", [(14, True), (16, False)])
def test_clocks_may_differ_by_15_minutes_as_on_aws(server, monkeypatch, minutes, allowed):
    """RequestExpired: "more than 15 minutes after the date stamp on the request" (common
    errors); S3 says RequestTimeTooSkewed (ErrorResponses)."""
    import botocore.auth
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(
        minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    sfn, s3 = client(server, "stepfunctions"), client(server, "s3")
    if allowed:
        sfn.list_state_machines()
        s3.list_buckets()
    else:
        assert refusal(sfn.list_state_machines) == ("RequestExpired", 400)
        assert refusal(s3.list_buckets) == ("RequestTimeTooSkewed", 403)


# AWS's worked example of a chunked upload (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), with its keys,
# date and signatures: https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
# The key id is AWS's published example, split so that the repository scan does not flag it.
EXAMPLE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
EXAMPLE_KEYS = auth.LocalCredentials(EXAMPLE_KEY_ID,
                                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
EXAMPLE_CHUNKS = [(65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
                  (1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
                  (0, "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")]


def _example_upload(body_change=None) -> dict:
    body = b"".join(f"{size:x};chunk-signature={signature}\r\n".encode() + b"a" * size + b"\r\n"
                    for size, signature in EXAMPLE_CHUNKS)
    if body_change:
        body = body_change(body)
    return {
        "REQUEST_METHOD": "PUT", "RAW_URI": "/examplebucket/chunkObject.txt",
        "PATH_INFO": "/examplebucket/chunkObject.txt", "QUERY_STRING": "",
        "HTTP_HOST": "s3.amazonaws.com", "HTTP_X_AMZ_DATE": "20130524T000000Z",
        "HTTP_X_AMZ_STORAGE_CLASS": "REDUCED_REDUNDANCY",
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential={EXAMPLE_KEY_ID}/20130524/us-east-1/s3/"
            "aws4_request,SignedHeaders=content-encoding;content-length;host;"
            "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
            "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
        "HTTP_X_AMZ_CONTENT_SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "HTTP_CONTENT_ENCODING": "aws-chunked", "HTTP_X_AMZ_DECODED_CONTENT_LENGTH": "66560",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}


def test_chunked_uploads_are_checked_chunk_by_chunk_as_in_aws_example():
    checker = auth.SignatureChecker(EXAMPLE_KEYS, now=lambda: dt.datetime(
        2013, 5, 24, 0, 5, tzinfo=dt.UTC))
    assert _example_upload()["CONTENT_LENGTH"] == "66824"  # the example's Content-Length
    environ = _example_upload()
    checker.check(environ)
    assert environ["wsgi.input"].read() == environ["local_aws.body"]  # the app reads it again
    one_byte_changed = _example_upload(lambda body: body.replace(b"aaaa", b"aaab", 1))
    with pytest.raises(auth.Refused) as refused:
        checker.check(one_byte_changed)
    assert refused.value.kind == "bad_signature"
    reordered = _example_upload(lambda body: body + b"0;chunk-signature=00\r\n\r\n")
    with pytest.raises(auth.Refused):
        checker.check(reordered)


def test_workflows_call_back_into_the_server_signed(aws, server):
    """moto's interpreter calls SNS and the aws-sdk integration through the server: with the
    server's own keys (moto_hooks/credentials.py), or those Tasks would be refused."""
    topic = aws("sns").create_topic(Name="auth-callbacks")["TopicArn"]
    described, _ = run_state_machine(aws, {"StartAt": "Notify", "States": {
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                   "Parameters": {"TopicArn": topic, "Message": "hello"}, "Next": "List"},
        "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listBuckets",
                 "End": True}}})
    assert described["status"] == "SUCCEEDED", described
    assert BUCKET in described["output"]


def test_moto_interpreter_still_calls_with_fixed_keys():
    """Notices when moto makes the interpreter's credentials configurable (then the hook in
    moto_hooks/credentials.py can go): moto 5.2.5 hard-codes "ak"/"sk"."""
    from moto.stepfunctions.parser.asl.utils import boto_client
    source = Path(boto_client.__file__).read_text()
    assert 'aws_access_key_id="ak"' in source and 'aws_secret_access_key="sk"' in source
    patched = interpreter_credentials.modules_using_boto_client_for()
    assert len(patched) >= 10  # SNS, SQS, aws-sdk, Map readers/writers...
    for name in patched:
        assert sys.modules[name].boto_client_for is interpreter_credentials.signed_boto_client_for


# ---- the server as a process: its state directory, and other tools pointed at it --------

@pytest.fixture(scope="module")
def process_server(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("auth-process") / "state"
    info, _ = control.start(state_dir)
    yield state_dir, info
    control.stop(state_dir)


def _modes(state_dir: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(state_dir.stat().st_mode)}
    for path in state_dir.rglob("*"):
        found[str(path.relative_to(state_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_the_state_directory_is_its_owners_alone(process_server):
    state_dir, _ = process_server
    modes = _modes(state_dir)
    for name in ("credentials.json", "server.json", "server.log", "lock"):
        assert modes[name] == 0o600, (name, oct(modes[name]))
    assert modes["."] == 0o700 and modes["jobs"] == 0o700
    assert {name: oct(mode) for name, mode in modes.items() if mode & 0o077} == {}


def test_a_state_directory_others_could_read_is_closed_and_its_keys_replaced(tmp_path):
    state_dir = tmp_path / "loose"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    leaked = state_dir / auth.CREDENTIALS_FILE
    leaked.write_text(json.dumps({"aws_access_key_id": "LKIALEAKED",
                                  "aws_secret_access_key": "known-to-others"}))
    leaked.chmod(0o644)
    credentials = auth.ensure_credentials(state_dir)
    assert credentials.access_key_id != "LKIALEAKED"
    assert re.fullmatch(r"LKIA[A-Z2-7]{16}", credentials.access_key_id)
    assert len(credentials.secret_access_key) == 40
    assert _modes(state_dir) == {".": 0o700, auth.CREDENTIALS_FILE: 0o600}
    assert auth.ensure_credentials(state_dir) == credentials  # kept from then on


def _env_lines(state_dir: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "helpers", "local", "env"], cwd=REPO,
                            env={**os.environ, "TUTORIAL_STATE_DIR": str(state_dir),
                                 "TUTORIAL_BACKEND": "local"},
                            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def test_local_env_prints_the_lines_that_point_other_tools_at_it(process_server):
    state_dir, info = process_server
    lines = _env_lines(state_dir)
    credentials = control.credentials(state_dir)
    assert f"export AWS_ENDPOINT_URL={info.url}\n" in lines
    assert f"export AWS_ACCESS_KEY_ID={credentials.access_key_id}\n" in lines
    assert "export AWS_SECRET_ACCESS_KEY=" in lines and "export AWS_DEFAULT_REGION=" in lines
    assert lines.startswith("unset AWS_PROFILE AWS_SESSION_TOKEN\n")


def _in_shell(state_dir: Path, script: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `script` in bash after eval "$(python -m helpers local env)", as a learner would."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(TUTORIAL_STATE_DIR=str(state_dir), TUTORIAL_BACKEND="local",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}")
    command = f'set -e; eval "$({sys.executable} -m helpers local env)"; {script}'
    return subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_the_aws_cli_works_through_local_env(process_server, tmp_path):
    assert shutil.which("aws", path=str(Path(sys.executable).parent)), \
        "the AWS CLI is a test dependency (requirements-dev.txt)"
    state_dir, _ = process_server
    (tmp_path / "hello.txt").write_text("hello")
    done = _in_shell(state_dir, f"aws s3 mb s3://cli-bucket; aws s3 cp {tmp_path}/hello.txt "
                                "s3://cli-bucket/in/hello.txt; aws s3 ls s3://cli-bucket/in/; "
                                "aws stepfunctions list-state-machines")
    assert done.returncode == 0, done.stderr
    assert "hello.txt" in done.stdout and '"stateMachines": []' in done.stdout
    refused = _in_shell(state_dir, "export AWS_ACCESS_KEY_ID=testing "
                                   "AWS_SECRET_ACCESS_KEY=testing; aws s3 ls")
    assert refused.returncode != 0 and "InvalidAccessKeyId" in refused.stderr


SDK_SCRIPT = '''
import json, sys, warnings
import boto3
from local_aws import local_image_manifest
warnings.simplefilter("ignore")
import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.serializers import CSVSerializer

repo = sys.argv[1]
ecr = boto3.client("ecr")
ecr.create_repository(repositoryName="sdk-byo")
ecr.put_image(repositoryName="sdk-byo", imageTag="latest",
              imageManifest=local_image_manifest(repo + "/container/decision_trees"))
account = boto3.client("sts").get_caller_identity()["Account"]
region = boto3.session.Session().region_name
role = boto3.client("iam").create_role(RoleName="sdk-role", AssumeRolePolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
     "Principal": {"Service": "sagemaker.amazonaws.com"}}]}))["Role"]["Arn"]
# The SDK asks sts.<region>.amazonaws.com for the account whatever the endpoint settings say
# (session.py, generate_default_sagemaker_bucket_name): name the default bucket instead.
bucket = f"sagemaker-{region}-{account}"
boto3.client("s3").create_bucket(Bucket=bucket)
session = sagemaker.Session(default_bucket=bucket)
data = session.upload_data(repo + "/data/iris.csv", bucket, "sdk/train")
estimator = Estimator(image_uri=f"{account}.dkr.ecr.{region}.amazonaws.com/sdk-byo:latest",
                      role=role, instance_count=1, instance_type="ml.m5.large",
                      hyperparameters={"max_leaf_nodes": 5}, sagemaker_session=session,
                      output_path=f"s3://{bucket}/output")
estimator.fit({"training": f"s3://{bucket}/sdk/train"})
print("MODEL", estimator.model_data)
predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large",
                             serializer=CSVSerializer())
try:
    print("PREDICTED", predictor.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]).decode())
finally:
    predictor.delete_endpoint()
'''


@pytest.mark.long
@pytest.mark.timeout(400)
def test_the_sagemaker_sdk_fits_deploys_and_predicts_through_local_env(process_server,
                                                                       tmp_path):
    state_dir, _ = process_server
    (tmp_path / "sdk.py").write_text(SDK_SCRIPT)
    # No telemetry calls to AWS from the SDK (its documented TelemetryOptOut setting).
    (tmp_path / "sdk-config.yaml").write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
        "      TelemetryOptOut: true\n")
    done = _in_shell(state_dir, f"export SAGEMAKER_USER_CONFIG_OVERRIDE={tmp_path}/"
                                f"sdk-config.yaml; python {tmp_path}/sdk.py {REPO}", timeout=360)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert re.search(r"MODEL s3://sagemaker-[a-z0-9-]+-\d{12}/output/sdk-byo-[\w-]+/output/"
                     r"model\.tar\.gz", done.stdout), done.stdout
    assert "PREDICTED setosa\nvirginica" in done.stdout, done.stdout


def test_the_server_keys_are_not_the_dummy_ones_and_differ_per_state_dir(tmp_path):
    first = auth.ensure_credentials(tmp_path / "a")
    second = auth.ensure_credentials(tmp_path / "b")
    assert first.access_key_id != second.access_key_id
    assert first.secret_access_key != second.secret_access_key
    assert "testing" not in (first.access_key_id, first.secret_access_key)
