"""The exercises of notebook 07 · Train and host."""
from __future__ import annotations

from botocore.exceptions import ClientError

from .. import config
from ..graph import all_states
from . import NotYet, exercise
from .common import (
    AN_EXECUTION,
    TRAINING_RESOURCE,
    accuracy_gate,
    finished_execution,
    states_entered,
    whole_number,
    why_it_failed,
)


@exercise("07.1", "An accuracy gate before deploying", AN_EXECUTION)
def _gate_before_model(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    states = all_states(definition)
    training = next((name for name, state in definition["States"].items()
                     if TRAINING_RESOURCE in state.get("Resource", "")), None)
    if training is None or "Create model" not in states:
        raise NotYet("The workflow you ran is not §5's: start from "
                     "helpers.workflows.train_and_host.")
    _, default = accuracy_gate(states, training, None, "Create model", feedback)
    leaves = states[training].get("Parameters", {}).get("HyperParameters", {}).get(
        "max_leaf_nodes")
    entered = states_entered(aws, answer)
    if leaves != "2":
        feedback.problems.append(f"The model was trained with max_leaf_nodes {leaves!r}; train "
                                 "it with \"2\", so the gate has something to stop.")
    elif "Create model" in entered:
        feedback.problems.append("The 2-leaf model went on to Create model: the gate let it "
                                 "through.")
    elif default not in entered:
        feedback.problems.append(f"The execution never reached {default!r}: "
                                 f"{why_it_failed(aws, answer)}.")
    if feedback.passed:
        feedback.notes.append(f"Stopped at {default!r}: no model, no endpoint configuration, and "
                              "the endpoint kept serving the previous model.")


@exercise("07.2", "What the container says about three features",
          "a number: the HTTP status the container answered")
def _three_features(aws, answer, feedback):
    whole_number(answer, "an HTTP status code (a number)")
    runtime = aws.client("sagemaker-runtime")
    try:
        runtime.invoke_endpoint(EndpointName=config.ENDPOINT_NAME, ContentType="text/csv",
                                Body=b"5.1,3.5,1.4\n")
        raise NotYet("The endpoint answered three features without an error: is it serving "
                     "the series' model?")
    except runtime.exceptions.ModelError as error:
        status = error.response["OriginalStatusCode"]
        message = error.response["OriginalMessage"]
    except ClientError as error:
        raise NotYet(f"invoke_endpoint failed with {error.response['Error']['Code']}: is "
                     f"{config.ENDPOINT_NAME} in service? (Run the notebook's deploy first.)")
    if answer == 424:
        feedback.problems.append("424 is what SageMaker answers *you* (ModelError: Failed "
                                 "Dependency); the container's own status is in the error's "
                                 "OriginalStatusCode.")
    elif answer != status:
        feedback.problems.append(f"{answer} is not what the container answered; read "
                                 "error.response['OriginalStatusCode'].")
    if feedback.passed:
        feedback.notes.append(f"{status}: {message.strip()[:200]}")


