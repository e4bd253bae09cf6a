"""The series' workflows in JSONata with variables (notebook 12), built as plain dicts.

The Data Science SDK writes JSONPath only: it cannot emit `QueryLanguage`, `Arguments`, `Output`,
`Assign` or `{% ... %}` (its issue #204). Its `Workflow` does not mind, though: given the SDK's
own `FrozenGraph` of a definition dict it creates, updates, executes and lists like any other.
So a JSONata definition is a dict, written as the console shows it, and `machine()` makes it an
SDK Workflow. Where the SDK already knows a request's shape (the CreateTrainingJob parameters an
Estimator produces), the dict starts from what the SDK built for the JSONPath workflow.
"""
from __future__ import annotations

from stepfunctions.steps import FrozenGraph

from .names import Names

TRAINING_STATE = "SageMakerModelTraining"
TRAINING_RESOURCE = "arn:aws:states:::sagemaker:createTrainingJob.sync"
SNS_PUBLISH = "arn:aws:states:::sns:publish"
DESCRIBE_ENDPOINT = "arn:aws:states:::aws-sdk:sagemaker:describeEndpoint"
# The job name: the document's prefix, the execution's name, and two counters so that neither a
# Retry nor a redrive asks SageMaker for a job name it has already used.
JOB_NAME = ("{% 'sagemaker-bring-your-own-' & $states.context.Execution.Name & '-' & "
            "$states.context.Execution.RedriveCount & '-' & $states.context.State.RetryCount %}")
# The alert: one expression where JSONPath needs a Choice, two Pass states and a States.Format
# over paths a ResultPath put there: for a job that ran and failed (States.TaskFailed) the Cause
# is its DescribeTrainingJob as JSON text, of which it keeps the name and the FailureReason.
ALERT_MESSAGE = ("{% 'Training failed in execution ' & $states.context.Execution.Name & "
                 "'. Error: ' & $error.Error & '. Cause: ' & "
                 "($error.Error = 'States.TaskFailed' ? 'training job ' & "
                 "$parse($error.Cause).TrainingJobName & ' failed: ' & "
                 "$parse($error.Cause).FailureReason : $error.Cause) %}")


def machine(name: str, states: dict, names: Names, aws=None, start_at: str | None = None):
    """A JSONata state machine (a dict of states) as an SDK Workflow named sagemaker-byo-<name>."""
    definition = {"Comment": workflows.DOCUMENT_COMMENT, "QueryLanguage": "JSONata",
                  "StartAt": start_at or next(iter(states)), "States": states}
    return workflows.workflow(name, FrozenGraph(definition), names, aws)


def jsonpath_training_state(names: Names, aws=None) -> dict:
    """The training state of §2's improved JSONPath workflow, as the SDK built it."""
    detailed = workflows.training_retry_notify_detailed(names, aws)
    return workflows.definition(detailed)["States"][TRAINING_STATE]


def training_arguments(names: Names, aws=None) -> dict:
    """The CreateTrainingJob request as JSONata Arguments: the SDK's Parameters, with the job
    name as an expression instead of a "TrainingJobName.$" path."""
    parameters = dict(jsonpath_training_state(names, aws)["Parameters"])
    del parameters["TrainingJobName.$"]
    return {"TrainingJobName": JOB_NAME, **parameters}


def training_retry_notify_jsonata(names: Names, aws=None):
    """§2 in JSONata: the same Retry; the Catch keeps the error in a variable (no ResultPath),
    the alert is one expression over it, and Fail reports the training's own error."""
    train = {"Type": "Task", "Resource": TRAINING_RESOURCE,
             "Arguments": training_arguments(names, aws),
             "Retry": jsonpath_training_state(names, aws)["Retry"],
             "Catch": [{"ErrorEquals": ["States.ALL"],
                        "Assign": {"error": "{% $states.errorOutput %}"},
                        "Next": "Notify Failure"}],
             "End": True}
    notify = {"Type": "Task", "Resource": SNS_PUBLISH, "Arguments": {
        "TopicArn": names.topic_arn, "Subject": "[ERROR] Model Training failed!",
        "Message": ALERT_MESSAGE}, "Next": "Fail"}
    fail = {"Type": "Fail", "Error": "{% $error.Error %}", "Cause": "{% $error.Cause %}"}
    return machine("training-retry-notify-jsonata",
                   {TRAINING_STATE: train, "Notify Failure": notify, "Fail": fail}, names, aws)


def training_redrivable_jsonata(names: Names, aws=None):
    """Training that lets a failed job fail the execution (no Catch into a Fail state), so that a
    redrive continues at the training state; its Output keeps what the next step needs."""
    train = {"Type": "Task", "Resource": TRAINING_RESOURCE,
             "Arguments": training_arguments(names, aws),
             "Retry": jsonpath_training_state(names, aws)["Retry"],
             "Output": {"job": "{% $states.result.TrainingJobName %}",
                        "model": "{% $states.result.ModelArtifacts.S3ModelArtifacts %}",
                        "redrives": "{% $states.context.Execution.RedriveCount %}"},
             "End": True}
    return machine("training-redrivable-jsonata", {TRAINING_STATE: train}, names, aws)


def endpoint_decision() -> dict:
    """§5's create-or-update decision in JSONata: DescribeEndpoint records in variables whether
    the endpoint exists and, if the lookup failed, its error; a Choice creates the endpoint only
    when that error says it was not found. Any other failure (access denied, throttling) alerts,
    as in notebook 07: creating an endpoint that exists would fail later, and less clearly."""
    find = {"Type": "Task", "Resource": DESCRIBE_ENDPOINT,
            "Arguments": {"EndpointName": config.ENDPOINT_NAME},
            "Assign": {"endpointExists": True, "lookupError": None},
            "Output": "{% $states.input %}",
            "Catch": [{"ErrorEquals": ["SageMaker.SageMakerException"],
                       "Assign": {"endpointExists": False,
                                  "lookupError": "{% $states.errorOutput %}"},
                       "Output": "{% $states.input %}", "Next": "Create or update?"},
                      {"ErrorEquals": ["States.ALL"], "Next": "Notify Failure",
                       "Output": "{% $merge([$states.input, {'error': $states.errorOutput}]) %}"}],
            "Next": "Create or update?"}
    choose = {"Type": "Choice", "Default": "Notify Failure", "Choices": [
        {"Condition": "{% $endpointExists %}", "Next": "Update endpoint"},
        {"Condition": "{% $contains($lookupError.Cause, 'Could not find endpoint') %}",
         "Next": "Create endpoint"}]}
    return {"Find the endpoint": find, "Create or update?": choose}


BUILDERS = {"training-retry-notify-jsonata": training_retry_notify_jsonata,
            "training-redrivable-jsonata": training_redrivable_jsonata}

# Last: helpers.workflows registers BUILDERS when it is imported, whichever module comes first.
from . import config, workflows
