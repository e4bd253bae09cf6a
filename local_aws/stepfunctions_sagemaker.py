"""The `arn:aws:states:::sagemaker:*` Task integration for moto's Step Functions interpreter.

moto 5.2.5 lists SageMaker as unsupported: `createTrainingJob.sync` fails at once with
States.Runtime. `install()` registers this integration instead; it is the only place that touches
moto's interpreter internals (pinned moto version, see requirements.txt).

The integration is thin, as AWS's is: it calls the SageMaker API (our local SageMaker, over HTTP,
the same way a notebook's boto3 client does) and, for `.sync`, polls DescribeTrainingJob. Errors
follow AWS's documented names:
- a rejected request -> `SageMaker.AmazonSageMakerException` (or `SageMaker.<Code>Exception` for
  ResourceLimitExceeded / ResourceInUse / ResourceNotFound), Cause in the AWS SDK's format;
- a job that ran and failed or was stopped -> `States.TaskFailed`, Cause = the describe output.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from functools import lru_cache

import botocore.session
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    _SERVICE_ERROR_NAMES as aws_sdk_error_names,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (  # noqa: E501
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

# The SageMaker actions AWS's optimized integration offers that this tutorial uses, and whether
# each supports `.sync` (the others are request-response only).
SUPPORTED_ACTIONS = {"createTrainingJob": True, "createModel": False,
                     "createEndpointConfig": False, "createEndpoint": False,
                     "updateEndpoint": False}
# Error codes that Step Functions reports under their own exception name.
NAMED_EXCEPTIONS = {"ResourceLimitExceeded", "ResourceInUse", "ResourceNotFound"}
# How often `.sync` checks the job. AWS polls on its own schedule; moto's default is 0.5 s, which
# would add up to half a second to every job, so the resolver below polls itself, faster.
SYNC_POLL_SECONDS = 0.05


@lru_cache(maxsize=None)
def _input_members(action: str) -> frozenset:
    """The request fields of a SageMaker API action, from botocore's service model."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    operation = model.operation_model(action[0].upper() + action[1:])
    return frozenset(operation.input_shape.members)


def error_name_for(code: str) -> str:
    return f"SageMaker.{code}Exception" if code in NAMED_EXCEPTIONS \
        else "SageMaker.AmazonSageMakerException"


def to_state_output(value):
    """Boto3 response -> what Step Functions passes on: timestamps as epoch milliseconds."""
    if isinstance(value, dict):
        return {k: to_state_output(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [to_state_output(v) for v in value]
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    return value


def _evaluate_role_arn_paths(env, parameters):
    """Workaround for moto 5.2.5's ASL grammar: the key `"RoleArn.$"` collides with the
    `Credentials.RoleArn` keyword, so the interpreter passes it through unevaluated (every other
    `"<key>.$"` is evaluated). SageMaker's CreateTrainingJob needs it, e.g. §3's role from the
    execution input, so it is evaluated here: `$$...` in the context object, `$...` in the input.
    """
    if isinstance(parameters, list):
        return [_evaluate_role_arn_paths(env, item) for item in parameters]
    if not isinstance(parameters, dict):
        return parameters
    evaluated = {}
    for key, value in parameters.items():
        if key == "RoleArn.$" and isinstance(value, str):
            if value.startswith("$$"):
                evaluated["RoleArn"] = extract_json("$" + value[2:],
                                                    env.states.context_object.context_object_data)
            else:
                evaluated["RoleArn"] = extract_json(value, env.states.get_input())
        else:
            evaluated[key] = _evaluate_role_arn_paths(env, value)
    return evaluated


_clients: dict = {}
_clients_lock = threading.Lock()


def _sagemaker_client(region: str):
    """moto's boto_client_for builds a new boto3 client per call (tens of milliseconds each; it
    ignores Task credentials anyway), so keep one per region."""
    with _clients_lock:
        if region not in _clients:
            _clients[region] = boto_client_for(region=region, service="sagemaker")
        return _clients[region]


class StateTaskServiceSageMaker(StateTaskServiceCallback):
    def __init__(self):
        # Workaround for moto 5.2.5: StateTaskServiceCallback._eval_integration_pattern calls
        # `callback_endpoint.interrupt_all()` unconditionally, and the endpoint only exists when
        # WaitForTaskToken is listed here; without it every `.sync` task dies with States.Runtime.
        # `.waitForTaskToken` itself stays rejected by _get_supported_parameters, as on AWS.
        super().__init__(supported_integration_patterns={ResourceCondition.Sync,
                                                         ResourceCondition.WaitForTaskToken})

    def _get_supported_parameters(self):
        action, condition = self.resource.api_action, self.resource.condition
        if action not in SUPPORTED_ACTIONS:
            return None
        if condition and (condition != ResourceCondition.Sync or not SUPPORTED_ACTIONS[action]):
            return None
        return set(_input_members(self.resource.api_action))

    def _eval_parameters(self, env) -> dict:
        # As moto's StateTask._eval_parameters, plus the RoleArn.$ workaround below.
        parameters = {}
        if self.parargs is not None:
            self.parargs.eval(env=env)
            parameters = _evaluate_role_arn_paths(env, env.stack.pop())
        supported = self._get_supported_parameters()
        return {k: v for k, v in parameters.items() if not supported or k in supported}

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters,
                           state_credentials):
        client = _sagemaker_client(resource_runtime_part.region)
        call = getattr(client, self._get_boto_service_action())
        env.stack.append(to_state_output(call(**normalised_parameters)))

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters,
                             state_credentials):
        env.stack.pop()  # CreateTrainingJob's own output; `.sync` outputs the describe instead
        client = _sagemaker_client(resource_runtime_part.region)
        name = normalised_parameters["TrainingJobName"]

        def resolve():
            while env.is_running():
                job = to_state_output(client.describe_training_job(TrainingJobName=name))
                status = job["TrainingJobStatus"]
                if status == "Completed":
                    return job
                if status in ("Failed", "Stopped"):
                    raise FailureEventException(self._task_failed(env, to_json_str(job)))
                time.sleep(SYNC_POLL_SECONDS)
            return None  # the execution was stopped: moto's loop ends on its own

        return resolve

    def _task_failed(self, env, cause: str) -> FailureEvent:
        error = StatesErrorNameType.StatesTaskFailed.to_name()
        return FailureEvent(
            env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                error=error, cause=cause, resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type())))

    def _from_error(self, env, ex):
        if isinstance(ex, ClientError):
            code = ex.response["Error"].get("Code", "InternalFailure")
            name = error_name_for(code)
            status = ex.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            request_id = ex.response.get("ResponseMetadata", {}).get("RequestId", "")
            cause = (f"{ex.response['Error'].get('Message', '')} (Service: AmazonSageMaker; "
                     f"Status Code: {status}; Error Code: {code}; Request ID: {request_id}; "
                     "Proxy: null)")
            return FailureEvent(
                env=env, error_name=CustomErrorName(name), event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    error=name, cause=cause, resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type())))
        return super()._from_error(env=env, ex=ex)


_installed = False


def install():
    """Make moto's interpreter use this integration for `arn:aws:states:::sagemaker:*`."""
    global _installed
    if _installed:
        return
    original = state_task_factory.state_task_service_for

    def state_task_service_for(service_name: str):
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name)

    # state_task_factory imported the function by name, so that module's binding is what counts.
    state_task_factory.state_task_service_for = state_task_service_for
    # The aws-sdk integration names errors <Service>.<Exception>; moto knows AWS's spelling of a
    # few services only and would write "sagemaker.sagemakerException".
    aws_sdk_error_names["sagemaker"] = "SageMaker"
    _installed = True

