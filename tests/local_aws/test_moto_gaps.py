"""The moto 5.2.5 bugs and gaps that local_aws/moto_hooks works around for this issue's
features (JSONata, variables, TestState, unnamed executions, States.* errors in Map/Parallel):
each test fails once moto fixes the bug, so the workaround can go."""
import json

from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.eval.variable_store import VariableStore
from moto.stepfunctions.parser.asl.jsonata.jsonata import eval_jsonata_expression
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

import pytest

from local_aws.moto_hooks import executions, variables


def test_moto_still_has_no_jsonata_evaluator():
    """moto issue #10105: the evaluator is None, every `{% %}` fails."""
    with pytest.raises(TypeError, match="'NoneType' object is not callable"):
        eval_jsonata_expression("1 + 1")


def test_moto_still_writes_assigned_strings_as_non_json(server):
    store = VariableStore()
    store.set("said", 'a "quoted" word')
    written = variables.MOTO_ORIGINALS["get_assigned_variables"](store)["said"]
    with pytest.raises(ValueError):
        json.loads(written)


def test_moto_still_refuses_states_error_names_where_map_and_parallel_need_them():
    with pytest.raises(ValueError, match="MUST NOT begin with the prefix 'States.'"):
        CustomErrorName("States.TaskFailed")


def test_moto_still_names_an_unnamed_execution_none(server):
    backend = StepFunctionsParserBackend("us-east-1", "123456789012")
    machine = backend.create_state_machine(
        name="gap", roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    execution = executions.MOTO_ORIGINALS["start_execution"](backend, machine.arn, None, "{}")
    assert execution.name is None and execution.execution_arn.endswith(":None")


@pytest.mark.parametrize("operation", ["test_state", "redrive_execution",
                                       "validate_state_machine_definition",
                                       "list_state_machine_versions",
                                       "publish_state_machine_version"])
def test_moto_still_does_not_serve(operation):
    assert not hasattr(StepFunctionResponse, operation)


def test_an_unknown_states_error_name_is_kept_not_refused():
    """The errors hook never raises where moto's CustomErrorName would: a States.* name moto has
    no constant for is kept as reported (and still matched by name)."""
    from local_aws.moto_hooks.errors import named
    assert named("States.TaskFailed").error_name == "States.TaskFailed"
    assert named("States.SomethingNew").error_name == "States.SomethingNew"
    assert named("States.SomethingNew") == named("States.SomethingNew")
    assert named("MyError").error_name == "MyError"


def test_moto_still_cannot_redrive_nor_describe_a_redrive(server):
    """RedriveExecution (local_aws/moto_hooks/redrive.py): moto's backend has no redrive and its
    DescribeExecution answer has none of the redrive fields."""
    from moto.stepfunctions.parser.backend.execution import Execution
    assert not hasattr(StepFunctionsParserBackend, "redrive_execution")
    assert not hasattr(Execution, "redrive")
    backend = StepFunctionsParserBackend("us-east-1", "123456789012")
    machine = backend.create_state_machine(
        name="gap-redrive", roleArn="arn:aws:iam::123456789012:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    execution = backend.start_execution(machine.arn, "gap-redrive", "{}")
    described = execution.to_describe_output()
    assert not {"redriveCount", "redriveStatus"} & set(described)


# ---- one per remaining workaround: each fails once moto (or botocore) fixes what it works around

def test_moto_still_passes_rolearn_paths_through_unevaluated(aws):
    """local_aws/moto_hooks/stepfunctions.py evaluate_role_arn_paths: the grammar's
    Credentials.RoleArn keyword swallows `"RoleArn.$"`, so moto keeps it as a literal key. Shown
    in a Pass state, which the workaround does not touch (on AWS: {"RoleArn": "arn:...:role/r"})."""
    from tests.conftest import run_state_machine
    described, _ = run_state_machine(aws, {"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"RoleArn.$": "$.role", "Other.$": "$.role"},
        "End": True}}}, {"role": "arn:aws:iam::123456789012:role/r"})
    assert json.loads(described["output"]) == {"RoleArn.$": "$.role",
                                               "Other": "arn:aws:iam::123456789012:role/r"}


def test_moto_still_misspells_sagemaker_in_aws_sdk_error_names():
    """stepfunctions.install(): moto's aws-sdk integration knows AWS's spelling of a few services
    only ("SageMaker" is not among them in moto's own table; the hook adds it)."""
    import inspect

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
    )
    source = inspect.getsource(state_task_service_aws_sdk)
    table = source[source.index("_SERVICE_ERROR_NAMES"):].split("}", 1)[0]
    assert "sagemaker" not in table.lower()


def test_moto_still_has_no_sagemaker_task_integration():
    """stepfunctions.TaskService: moto's factory offers no `sagemaker` service integration of its
    own (only the aws-sdk one), so `createTrainingJob.sync` needs ours."""
    import inspect

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    source = inspect.getsource(state_task_factory)
    assert '"sagemaker"' not in source and "'sagemaker'" not in source


def test_moto_still_defaults_to_not_executing_state_machines():
    """config.enable_state_machine_execution(): moto marks executions SUCCEEDED at once unless
    told to run them."""
    import inspect

    import moto.core.config
    assert '"stepfunctions": {"execute_state_machine": False}' in inspect.getsource(
        moto.core.config)


def test_botocore_still_sends_test_state_to_a_sync_host():
    """helpers.aws.LOCAL_CLIENT_CONFIG and the test clients set inject_host_prefix=False:
    botocore sends TestState to `sync-<host>`, which does not resolve for a loopback endpoint."""
    import botocore.session
    model = botocore.session.get_session().get_service_model("stepfunctions")
    assert model.operation_model("TestState").endpoint == {"hostPrefix": "sync-"}
