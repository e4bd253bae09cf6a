"""The `arn:aws:states:::sagemaker:*` Task integration (moto 5.2.5 has none; see moto_hooks).

The integration is thin, as AWS's is: it calls the SageMaker API (our local SageMaker, over HTTP,
the same way a notebook's boto3 client does) and, for `.sync`, polls the job's Describe call
(DescribeTrainingJob, DescribeTransformJob, ...: SYNC_DESCRIBE). Errors
follow AWS's documented names:
- a rejected request -> `SageMaker.AmazonSageMakerException` (or `SageMaker.<Code>Exception` for
  ResourceLimitExceeded / ResourceInUse / ResourceNotFound), Cause in the AWS SDK's format;
- a job that ran and failed or was stopped -> `States.TaskFailed`, Cause = the describe output.
"""
from __future__ import annotations

from functools import lru_cache

import botocore.session
from botocore.exceptions import ClientError

from .integrations import TaskFailed, TaskIntegration, to_state_output

# The SageMaker actions AWS's optimized integration offers that this tutorial uses, and whether
# each supports `.sync` (the others are request-response only).
SUPPORTED_ACTIONS = {"createTrainingJob": True, "createModel": False,
                     "createEndpointConfig": False, "createEndpoint": False,
                     "updateEndpoint": False}
SUPPORTED_ACTIONS.update({"createTransformJob": True, "createProcessingJob": True,
                          "createHyperParameterTuningJob": True})
# For each `.sync` action: the Describe call its poller makes, the name it passes, and the status
# field it reads (the describe output is the state's result, as on AWS).
SYNC_DESCRIBE = {
    "createTrainingJob": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "createTransformJob": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
    "createProcessingJob": ("describe_processing_job", "ProcessingJobName",
                            "ProcessingJobStatus"),
    "createHyperParameterTuningJob": ("describe_hyper_parameter_tuning_job",
                                      "HyperParameterTuningJobName",
                                      "HyperParameterTuningJobStatus"),
}
# Error codes that Step Functions reports under their own exception name.
NAMED_EXCEPTIONS = {"ResourceLimitExceeded", "ResourceInUse", "ResourceNotFound"}


@lru_cache(maxsize=None)
def _input_members(action: str) -> frozenset:
    """The request fields of a SageMaker API action, from botocore's service model."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    operation = model.operation_model(action[0].upper() + action[1:])
    return frozenset(operation.input_shape.members)


def error_name_for(code: str) -> str:
    return f"SageMaker.{code}Exception" if code in NAMED_EXCEPTIONS \
        else "SageMaker.AmazonSageMakerException"


class SageMakerIntegration(TaskIntegration):
    service = "sagemaker"

    def __init__(self, clients):
        self._clients = clients  # clients(service, region) -> boto3 client of this local AWS

    def parameters(self, action: str, sync: bool):
        if action not in SUPPORTED_ACTIONS or (sync and not SUPPORTED_ACTIONS[action]):
            return None
        return set(_input_members(action))

    def offered(self) -> list[str]:
        resources = []
        for action, sync in SUPPORTED_ACTIONS.items():
            resources.append(f"arn:aws:states:::sagemaker:{action}")
            if sync:
                resources.append(f"arn:aws:states:::sagemaker:{action}.sync")
        return resources

    def call(self, region: str, action: str, parameters: dict) -> dict:
        client = self._clients("sagemaker", region)
        snake = "".join("_" + c.lower() if c.isupper() else c for c in action)
        return to_state_output(getattr(client, snake)(**parameters))

    def sync_poller(self, region: str, action: str, parameters: dict, response: dict):
        client = self._clients("sagemaker", region)
        describe, name_field, status_field = SYNC_DESCRIBE[action]
        name = parameters[name_field]

        def poll():
            job = to_state_output(getattr(client, describe)(**{name_field: name}))
            status = job[status_field]
            if status == "Completed":
                return job
            if status in ("Failed", "Stopped"):
                raise TaskFailed(job)
            return None

        return poll

    def error(self, exception: Exception):
        if not isinstance(exception, ClientError):
            return None
        response = exception.response
        code = response["Error"].get("Code", "InternalFailure")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
        request_id = response.get("ResponseMetadata", {}).get("RequestId", "")
        cause = (f"{response['Error'].get('Message', '')} (Service: AmazonSageMaker; "
                 f"Status Code: {status}; Error Code: {code}; Request ID: {request_id}; "
                 "Proxy: null)")
        return error_name_for(code), cause
