"""The exercises of notebook 12 · JSONata and variables."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from . import NotYet, exercise
from .common import AN_EXECUTION, finished_execution, short

# Exercise 12.1: §5's "Is it in service?" Choice in JSONata; the learner writes the Failed rule.
IN_SERVICE = "{% $states.input.EndpointStatus = 'InService' %}"
ROUTES = {"InService": "Notify Success", "Failed": "Endpoint failed",
          "Creating": "Wait for the endpoint", "Updating": "Wait for the endpoint"}


def is_it_in_service(failed_condition: str) -> dict:
    """The Choice state of exercise 12.1 with the learner's Condition for Failed."""
    return {"QueryLanguage": "JSONata", "Type": "Choice", "Default": "Wait for the endpoint",
            "Choices": [{"Condition": IN_SERVICE, "Next": "Notify Success"},
                        {"Condition": failed_condition, "Next": "Endpoint failed"}]}


@exercise("12.1", "A JSONata Choice rule for a failed endpoint",
          "the Condition (a string) that sends EndpointStatus 'Failed' to 'Endpoint failed'")
def _failed_rule(aws, answer, feedback):
    if not isinstance(answer, str):
        raise NotYet(f"`answer` should be the Condition as a string; got {short(answer)}.")
    text = answer.strip()
    if not (text.startswith("{%") and text.endswith("%}")):
        raise NotYet(f"{short(answer)} is not a JSONata expression: a Condition is written "
                     "between {% and %}, e.g. \"{% $states.input.x = 'y' %}\".")
    if "$." in text.replace("$states.", ""):
        feedback.notes.append("A JSONPath like $.EndpointStatus means nothing in JSONata: the "
                              "state's input is $states.input.")
    sfn = aws.client("stepfunctions")
    for status, expected in ROUTES.items():
        try:
            tested = sfn.test_state(definition=json.dumps(is_it_in_service(answer)),
                                    input=json.dumps({"EndpointStatus": status}))
        except ClientError as refused:
            raise NotYet(f"TestState refused the Choice state: "
                         f"{refused.response['Error']['Message']}") from None
        if tested["status"] != "SUCCEEDED":
            raise NotYet(f"With EndpointStatus {status!r} the Choice failed: "
                         f"{tested.get('error')}: {tested.get('cause', '')[:200]}")
        if tested.get("nextState") != expected:
            feedback.problems.append(f"EndpointStatus {status!r} goes to "
                                     f"{tested.get('nextState')!r}; it should go to {expected!r}.")
    if feedback.passed:
        feedback.notes.append("Checked with TestState for InService, Failed, Creating and "
                              "Updating: no endpoint was needed, and nothing ran.")


def _entered_after_redrive(aws, execution_arn: str) -> list[str]:
    events = aws.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000)["events"]
    redriven = [i for i, event in enumerate(events) if event["type"] == "ExecutionRedriven"]
    if not redriven:
        return []
    return [event["stateEnteredEventDetails"]["name"] for event in events[redriven[-1]:]
            if event["type"].endswith("StateEntered")]


@exercise("12.2", "Where does a redrive continue?", AN_EXECUTION)
def _redrive_after_catch(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    states = definition.get("States", {})
    fail_after_catch = any(catcher.get("Next") == "Notify Failure"
                           for state in states.values() for catcher in state.get("Catch", []))
    if definition.get("QueryLanguage") != "JSONata" or not fail_after_catch:
        raise NotYet("That execution is not of training-retry-notify-jsonata (the JSONata §2 "
                     "workflow whose Catch leads to Notify Failure and Fail).")
    if described.get("redriveCount", 0) == 0:
        if described["status"] == "SUCCEEDED":
            raise NotYet("That execution succeeded, so there is nothing to redrive: use the run "
                         "that failed on the malformed data (`bad`).")
        raise NotYet(f"That execution ({described['status']}) was never redriven: call "
                     "redrive_execution(executionArn=...) on it, then wait for it.")
    entered = _entered_after_redrive(aws, answer)
    if entered != ["Fail"]:
        feedback.problems.append(f"After the redrive it entered {entered}; a run that failed on "
                                 "bad data continues only at Fail.")
    if feedback.passed:
        feedback.notes.append(f"The redrive continued at Fail, the state where the execution "
                              f"failed, and it failed again ({described['status']}): the Catch "
                              "had turned the training error into a Fail state's. A workflow "
                              "meant to be redriven lets the failing state end the execution, "
                              "as training-redrivable-jsonata does.")
