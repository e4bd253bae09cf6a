"""ValidateStateMachineDefinition and state machine versions on the local AWS (API reference:
https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinition.html,
API_PublishStateMachineVersion.html, API_ListStateMachineVersions.html)."""
import json
import time

import pytest
from botocore.exceptions import ClientError

PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def validate(aws, definition) -> dict:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    response = aws("stepfunctions").validate_state_machine_definition(definition=text)
    return {key: response[key] for key in ("result", "diagnostics", "truncated")}


def test_a_valid_definition_is_ok(aws):
    assert validate(aws, PASS) == {"result": "OK", "diagnostics": [], "truncated": False}


@pytest.mark.parametrize("definition, code, message, location", [
    ("not a definition", "INVALID_JSON_DESCRIPTION", "Expecting value", "[line: 1, column: 1]"),
    ([1], "SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object", None),
    ({}, "SCHEMA_VALIDATION_FAILED", "These fields are required: [States, StartAt]", "/"),
    ({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}},
     "MISSING_TRANSITION_TARGET", "Missing 'Next' target: Nowhere", "/States/A/Next"),
    ({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
        "Type": "Pass", "QueryLanguage": "JSONPath", "End": True}}},
     "SCHEMA_VALIDATION_FAILED",
     "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
     "/States/A"),
])
def test_diagnostics(aws, definition, code, message, location):
    result = validate(aws, definition)
    assert result["result"] == "FAIL"
    diagnostic = result["diagnostics"][0]
    assert diagnostic["severity"] == "ERROR" and diagnostic["code"] == code
    assert diagnostic["message"].startswith(message)
    assert diagnostic.get("location") == location


def test_versions_are_published_and_listed_newest_first(aws):
    sfn = aws("stepfunctions")
    arn = sfn.create_state_machine(name=f"versions-{time.time_ns()}", roleArn=aws.sfn_role_arn,
                                   definition=json.dumps(PASS))["stateMachineArn"]
    first = sfn.publish_state_machine_version(stateMachineArn=arn, description="first")
    second = sfn.publish_state_machine_version(stateMachineArn=arn)
    assert (first["stateMachineVersionArn"], second["stateMachineVersionArn"]) == (
        f"{arn}:1", f"{arn}:2")
    listed = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in listed] == [f"{arn}:2", f"{arn}:1"]
    assert sfn.describe_state_machine(stateMachineArn=f"{arn}:1")["definition"] == \
        json.dumps(PASS)
    with pytest.raises(ClientError) as missing:
        sfn.list_state_machine_versions(stateMachineArn=arn + "-none")
    assert missing.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
