"""Definitions the local AWS cannot run are refused as AWS refuses them: CreateStateMachine and
UpdateStateMachine answer InvalidDefinition (API reference, CreateStateMachine, Errors:
"InvalidDefinition: The provided Amazon States Language definition is invalid", HTTP 400) with a
message naming the resource and its place, never an empty error code or a Python repr
(local_aws/moto_hooks/refusals.py)."""
import json
import time

import pytest
from botocore.exceptions import ClientError
from moto.core.exceptions import AWSError
from moto.stepfunctions.parser import api as parser_api
from moto.stepfunctions.parser.api import InvalidDefinition

from local_aws.moto_hooks import refusals

ROLE = "arn:aws:iam::123456789012:role/sfn-role"


def task_definition(resource):
    return json.dumps({"StartAt": "Outer", "States": {"Outer": {
        "Type": "Parallel", "End": True, "Branches": [{"StartAt": "Score", "States": {
            "Score": {"Type": "Task", "Resource": resource, "Parameters": {}, "End": True}}}]}}})


def refused(call):
    with pytest.raises(ClientError) as error:
        call()
    response = error.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "InvalidDefinition"
    message = response["Error"]["Message"]
    assert "Error=" not in message and "Args=" not in message and "Exception(" not in message
    return message


def test_an_optimized_integration_not_offered_is_refused_naming_what_is_offered(aws):
    resource = "arn:aws:states:::sagemaker:createLabelingJob.sync"
    message = refused(lambda: aws("stepfunctions").create_state_machine(
        name=f"refused-{time.time_ns()}", definition=task_definition(resource), roleArn=ROLE))
    assert message.startswith("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: "
                              f"The resource provided {resource} not recognized.")
    assert "at /States/Outer/Branches[0]/States/Score/Resource'" in message
    assert "arn:aws:states:::sagemaker:createTrainingJob.sync" in message
    assert "arn:aws:states:::sagemaker:createTransformJob.sync" in message


def test_update_state_machine_refuses_too(aws):
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"to-update-{time.time_ns()}", roleArn=ROLE,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    )["stateMachineArn"]
    message = refused(lambda: sfn.update_state_machine(
        stateMachineArn=arn,
        definition=task_definition("arn:aws:states:::sagemaker:createModel.sync")))
    assert "createModel.sync not recognized" in message
    assert "arn:aws:states:::sagemaker:createModel," in message  # offered without .sync


def test_other_services_and_parse_errors_are_refused_without_reprs(aws):
    sfn = aws("stepfunctions")
    message = refused(lambda: sfn.create_state_machine(
        name=f"refused-{time.time_ns()}", roleArn=ROLE,
        definition=task_definition("arn:aws:states:::dynamodb:scanEverything")))
    assert "dynamodb:scanEverything not recognized" in message
    assert "offers" not in message  # only for the services the local AWS integrates itself
    message = refused(lambda: sfn.create_state_machine(
        name=f"refused-{time.time_ns()}", roleArn=ROLE,
        definition=task_definition("arn:aws:states:::nosuchservice:doThings")))
    assert "Unknown service 'nosuchservice'" in message
    message = refused(lambda: sfn.create_state_machine(
        name=f"refused-{time.time_ns()}", roleArn=ROLE,
        definition=json.dumps({"StartAt": "P", "States": {"P": {
            "Type": "Pass", "InputPath": "not a path", "End": True}}})))
    assert message.startswith("Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ")


def test_every_step_functions_parser_error_has_its_code(server):
    unnamed = [cls.__name__ for cls in vars(parser_api).values()
               if isinstance(cls, type) and issubclass(cls, AWSError) and cls is not AWSError
               and not cls.TYPE]
    assert unnamed == []
    assert InvalidDefinition("x").error_type == "InvalidDefinition"


def test_moto_still_refuses_with_an_empty_code_and_a_python_repr(server):
    """When this fails, moto names its parser errors and words refusals itself: the workaround
    in moto_hooks/refusals.py can go."""
    assert refusals.MOTO_ORIGINALS["unnamed"], "moto now sets TYPE on its parser errors"
    with pytest.raises(InvalidDefinition) as error:
        refusals.MOTO_ORIGINALS["validate_definition"](
            task_definition("arn:aws:states:::dynamodb:scanEverything"))
    assert "Error=ValueError Args=[" in error.value.message
