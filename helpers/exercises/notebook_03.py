"""The exercises of notebook 03 · The training workflow."""
from __future__ import annotations

from .. import executions
from . import NotYet, exercise
from .common import (
    AN_EXECUTION,
    expect_status,
    finished_execution,
    short,
    training_job_of,
    training_task,
)


@exercise("03.1", "A job named after the state machine and the execution",
          AN_EXECUTION)
def _named_jobs(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    name, task = training_task(definition)
    parameters = task.get("Parameters", {})
    if "TrainingJobName" in parameters:
        raise NotYet(f"{name}'s TrainingJobName is the literal text "
                     f"{parameters['TrainingJobName']!r}: without '.$' at the end of the key, "
                     "Step Functions does not evaluate it. Pass it as helpers.sdk.Intrinsic(...).")
    expression = parameters.get("TrainingJobName.$", "")
    for needed in ("$$.StateMachine.Name", "$$.Execution.Name"):
        if needed not in expression:
            feedback.problems.append(f"The job name {expression!r} does not use {needed}.")
    expect_status(aws, described, "SUCCEEDED")
    job = training_job_of(executions.output(described))["TrainingJobName"]
    machine = described["stateMachineArn"].rsplit(":", 1)[-1]
    if feedback.passed:
        feedback.notes.append(f"The job is {job}: {len(job)} of SageMaker's 63 characters "
                              f"({len(machine)} for the state machine, {len(described['name'])} "
                              "for the execution).")


@exercise("03.2", "Hyperparameters on the training task", AN_EXECUTION)
def _task_hyperparameters(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    name, task = training_task(definition)
    hyperparameters = task.get("Parameters", {}).get("HyperParameters", {})
    if not isinstance(hyperparameters, dict) or "max_leaf_nodes" not in hyperparameters:
        raise NotYet(f"{name} sets no max_leaf_nodes (its HyperParameters are "
                     f"{short(hyperparameters)}): set step.parameters['HyperParameters'].")
    value = hyperparameters["max_leaf_nodes"]
    if not isinstance(value, str):
        raise NotYet(f"max_leaf_nodes is {value!r}, a {type(value).__name__}: SageMaker takes "
                     "hyperparameters as strings only, so CreateTrainingJob is rejected. Write "
                     f"\"{value}\".")
    if value != "3":
        feedback.problems.append(f"max_leaf_nodes is {value!r}; the exercise asks for \"3\".")
    expect_status(aws, described, "SUCCEEDED")
    job = training_job_of(executions.output(described))
    if feedback.passed:
        feedback.notes.append(f"{job['TrainingJobName']} trained with "
                              f"{job['HyperParameters']}: the Task passes them to "
                              "CreateTrainingJob, and SageMaker writes them to "
                              "/opt/ml/input/config/hyperparameters.json.")


