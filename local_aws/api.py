"""The local AWS's HTTP front: our SageMaker in front of moto, plus a small admin API.

boto3 speaks SageMaker's JSON protocol (`X-Amz-Target: SageMaker.<Operation>`); the operations
implemented by `LocalSageMaker` are answered here, and so are the Step Functions operations moto's
HTTP layer lacks (`moto_hooks.stepfunctions_operations()`: TestState, ...); everything else goes
on to moto unchanged. The Host header is not looked at: botocore's `sync-` host prefix for
TestState (see helpers.aws.LOCAL_CLIENT_CONFIG) would be served too, if its host resolved.
`/_tutorial/...` is this server's own admin API (health, fault injection); boto3 never calls it.
Armed faults (see faults.py) are checked before each SageMaker operation.
Every request is checked first, before any routing: it must be signed with the server's own key
pair (auth.py); only an unsigned health check is answered, with nothing but "ok".
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid

from . import auth
from .faults import FaultInjector
from .moto_hooks import ApiError, stepfunctions_operations
from .hosting import LocalHosting
from .sagemaker import LocalSageMaker, SageMakerError
from .tags import TagStore
from .tuning import LocalTuning

_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/")
_INVOCATION_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
STEPFUNCTIONS_JSON = "application/x-amz-json-1.0"
HOSTING_OPERATIONS = ("CreateModel", "DescribeModel", "DeleteModel", "ListModels",
                      "CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig",
                      "ListEndpointConfigs", "CreateEndpoint", "DescribeEndpoint",
                      "UpdateEndpoint", "DeleteEndpoint", "ListEndpoints")


def region_of(environ: dict, default: str = "us-east-1") -> str:
    """The region a SigV4-signed request was signed for."""
    match = _REGION_IN_AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else default


def _json_default(value):
    if isinstance(value, dt.datetime):
        return value.timestamp()  # the JSON protocol's timestamps are epoch seconds
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(start_response, status: int, body: dict, headers=(),
                  content_type="application/x-amz-json-1.1"):
    payload = json.dumps(body, default=_json_default).encode()
    start_response(f"{status} {'OK' if status < 400 else 'Error'}", [
        ("Content-Type", content_type), ("Content-Length", str(len(payload))),
        ("x-amzn-RequestId", str(uuid.uuid4())), *headers])
    return [payload]


def error_response(start_response, error: SageMakerError):
    body = {"__type": error.code, "message": error.message, **getattr(error, "extra", {})}
    return json_response(start_response, error.status, body,
                         headers=[("x-amzn-ErrorType", error.code)])


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


class LocalAwsApp:
    """WSGI app: routes SageMaker and admin requests to us, the rest to moto."""

    def __init__(self, moto_app, sagemaker: LocalSageMaker, hosting: LocalHosting,
                 faults: FaultInjector, admin, job_kinds=(),
                 signature_checker: auth.SignatureChecker | None = None):
        """`job_kinds`: further SageMaker job kinds (transform, processing...), each serving the
        operations its `operations()` names."""
        self._moto = moto_app
        self.signature_checker = signature_checker  # None: serve unsigned requests (benchmark)
        self.sagemaker = sagemaker
        self.hosting = hosting
        self.faults = faults
        self._admin = admin  # callable(method, path, body) -> (status, dict)
        self.tags = TagStore()
        self._stepfunctions = stepfunctions_operations()
        self._operations = {
            "CreateTrainingJob": lambda r, region: sagemaker.create_training_job(r, region),
            "DescribeTrainingJob": lambda r, region: sagemaker.describe_training_job(
                r.get("TrainingJobName", ""), region),
            "ListTrainingJobs": lambda r, region: sagemaker.list_training_jobs(r, region),
            "StopTrainingJob": lambda r, region: sagemaker.stop_training_job(
                r.get("TrainingJobName", ""), region),
            **{operation: getattr(hosting, _snake(operation)) for operation in HOSTING_OPERATIONS},
            "AddTags": self.tags.add_tags, "ListTags": self.tags.list_tags,
            "DeleteTags": self.tags.delete_tags,
        }
        for kind in job_kinds:
            self._operations.update(kind.operations())
        # Hyperparameter tuning (its DescribeTrainingJob adds TuningJobArn to its jobs).
        self.tuning = LocalTuning(sagemaker, self.tags)
        self._operations.update(self.tuning.operations())

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.signature_checker is not None:
            try:
                self.signature_checker.check(environ)
            except auth.Refused as refused:
                if path == "/_tutorial/health":  # open, and it reveals nothing
                    return json_response(start_response, 200, {"status": "ok"})
                return auth.refusal_response(environ, refused, start_response)
        if path.startswith("/_tutorial/"):
            status, body = self._admin(environ["REQUEST_METHOD"], path, _read_json(environ))
            return json_response(start_response, status, body)
        invocation = _INVOCATION_PATH.match(path)
        if invocation and environ["REQUEST_METHOD"] == "POST":
            return self._invoke(environ, start_response, invocation.group(1))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, operation = target.partition(".")
        if service == "SageMaker" and operation in self._operations:
            request = _read_json(environ)
            fault = self.faults.take(operation, request)
            if fault:
                return error_response(start_response,
                                      SageMakerError(fault.error, fault.message, fault.status))
            try:
                if operation.startswith("Create") and "Tags" in request:
                    self.tags.check(request["Tags"])  # before anything is created
                result = self._operations[operation](request, region_of(environ))
                if operation.startswith("Create"):
                    self.tags.tag_created(request, result)
            except SageMakerError as error:
                return error_response(start_response, error)
            return json_response(start_response, 200, result)
        if service == "AWSStepFunctions" and operation in self._stepfunctions:
            try:
                result = self._stepfunctions[operation](_read_json(environ), region_of(environ))
            except ApiError as error:
                return error_response(start_response, error)
            return json_response(start_response, 200, result, content_type=STEPFUNCTIONS_JSON)
        return self._moto(environ, start_response)

    def _invoke(self, environ, start_response, endpoint_name: str):
        """sagemaker-runtime InvokeEndpoint: the body goes to the endpoint's container as is."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            payload, content_type, variant = self.hosting.invoke(
                endpoint_name, region_of(environ), body, environ.get("CONTENT_TYPE", ""),
                environ.get("HTTP_ACCEPT"))
        except SageMakerError as error:
            return error_response(start_response, error)
        start_response("200 OK", [("Content-Type", content_type or "application/octet-stream"),
                                  ("Content-Length", str(len(payload))),
                                  ("x-Amzn-Invoked-Production-Variant", variant)])
        return [payload]


def _read_json(environ) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    return json.loads(raw) if raw.strip() else {}
