"""Hooks into moto's Step Functions interpreter (moto/stepfunctions/parser, LocalStack's code).

- Service integrations: moto 5.2.5 offers no `arn:aws:states:::sagemaker:*` Task integration
  (`createTrainingJob.sync` fails at once with States.Runtime). `TaskService` adapts one of our
  integrations (a `local_aws.integrations.TaskIntegration`, which knows nothing of moto) to the
  interpreter's `StateTaskServiceCallback`, and `install()` makes the interpreter's factory pick
  it for that service.
- Workarounds for moto bugs, each named where it is applied.
"""
from __future__ import annotations

import time

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
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

from ..integrations import TaskFailed, TaskIntegration

# How often a `.sync` task checks its job. moto's own loop waits 0.5 s between checks, which
# would add up to half a second to every job, so the adapter polls itself, faster.
SYNC_POLL_SECONDS = 0.05


def evaluate_role_arn_paths(env, parameters):
    """Workaround for moto 5.2.5's ASL grammar: the key `"RoleArn.$"` collides with the
    `Credentials.RoleArn` keyword, so the interpreter passes it through unevaluated (every other
    `"<key>.$"` is evaluated). SageMaker's CreateTrainingJob needs it, e.g. §3's role from the
    execution input, so it is evaluated here: `$$...` in the context object, `$...` in the input.
    """
    if isinstance(parameters, list):
        return [evaluate_role_arn_paths(env, item) for item in parameters]
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
            evaluated[key] = evaluate_role_arn_paths(env, value)
    return evaluated


class TaskService(StateTaskServiceCallback):
    """One of our integrations, as moto's interpreter calls a service integration."""

    def __init__(self, integration: TaskIntegration):
        # Workaround for moto 5.2.5: StateTaskServiceCallback._eval_integration_pattern calls
        # `callback_endpoint.interrupt_all()` unconditionally, and the endpoint only exists when
        # WaitForTaskToken is listed here; without it every `.sync` task dies with States.Runtime.
        # `.waitForTaskToken` itself stays refused by _get_supported_parameters, as on AWS.
        super().__init__(supported_integration_patterns={ResourceCondition.Sync,
                                                         ResourceCondition.WaitForTaskToken})
        self.integration = integration

    def _validate_service_integration_is_supported(self):
        # As moto's, but the refusal names what the local AWS offers (see refusals.py).
        if self._get_supported_parameters() is None:
            from .refusals import IntegrationNotOffered
            raise IntegrationNotOffered(self.resource.resource_arn, self.integration.offered())

    def _get_supported_parameters(self):
        condition = self.resource.condition
        if condition and condition != ResourceCondition.Sync:
            return None
        return self.integration.parameters(self.resource.api_action, sync=bool(condition))

    def _eval_parameters(self, env) -> dict:
        # As moto's StateTask._eval_parameters, plus the RoleArn.$ workaround.
        parameters = {}
        if self.parargs is not None:
            self.parargs.eval(env=env)
            parameters = evaluate_role_arn_paths(env, env.stack.pop())
        supported = self._get_supported_parameters()
        return {k: v for k, v in parameters.items() if not supported or k in supported}

    def _eval_service_task(self, env, resource_runtime_part, normalised_parameters,
                           state_credentials):
        env.stack.append(self.integration.call(resource_runtime_part.region,
                                               self.resource.api_action, normalised_parameters))

    def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters,
                             state_credentials):
        response = env.stack.pop()  # the request's own output; `.sync` outputs the job's
        poll = self.integration.sync_poller(resource_runtime_part.region,
                                            self.resource.api_action, normalised_parameters,
                                            response)

        def resolve():
            while env.is_running():
                try:
                    result = poll()
                except TaskFailed as failed:
                    raise FailureEventException(self._task_failed(env, failed.cause)) from None
                if result is not None:
                    return result
                time.sleep(SYNC_POLL_SECONDS)
            return None  # the execution was stopped: moto's loop ends on its own

        return resolve

    def _task_failed(self, env, cause) -> FailureEvent:
        error = StatesErrorNameType.StatesTaskFailed.to_name()
        return FailureEvent(
            env=env, error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                error=error, cause=cause if isinstance(cause, str) else to_json_str(cause),
                resource=self._get_sfn_resource(), resourceType=self._get_sfn_resource_type())))

    def _from_error(self, env, ex):
        named = self.integration.error(ex)
        if named is None:
            return super()._from_error(env=env, ex=ex)
        name, cause = named
        return FailureEvent(
            env=env, error_name=CustomErrorName(name), event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                error=name, cause=cause, resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type())))


_integrations: dict[str, TaskIntegration] = {}


def register(integration: TaskIntegration):
    """Serve `arn:aws:states:::<integration.service>:*` Task states with this integration."""
    _integrations[integration.service] = integration


_factory_patched = False


def install():
    global _factory_patched
    if _factory_patched:
        return
    _factory_patched = True
    original = state_task_factory.state_task_service_for

    def state_task_service_for(service_name: str):
        if service_name in _integrations:
            return TaskService(_integrations[service_name])
        return original(service_name)

    # state_task_factory imported the function by name, so that module's binding is what counts.
    state_task_factory.state_task_service_for = state_task_service_for
    # Workaround: the aws-sdk integration names errors <Service>.<Exception>; moto knows AWS's
    # spelling of a few services only and would write "sagemaker.sagemakerException".
    aws_sdk_error_names["sagemaker"] = "SageMaker"


def parse_definition(definition: str):
    """Parse an ASL definition as CreateStateMachine does (its Task resources included);
    raises on an invalid one. Returns moto's program object."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from ..stepfunctions_sagemaker import SageMakerIntegration
    install()
    _integrations.setdefault("sagemaker", SageMakerIntegration(clients=None))
    program, _ = AmazonStateLanguageParser.parse(definition)
    return program
