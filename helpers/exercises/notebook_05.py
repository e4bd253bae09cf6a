"""The exercises of notebook 05 · Input parameters."""
from __future__ import annotations

import json

from .. import config, data, executions
from . import NotYet, exercise
from .common import AN_EXECUTION, expect_status, finished_execution, whole_number


@exercise("05.1", "Wine with two leaves", AN_EXECUTION)
def _wine_two_leaves(aws, answer, feedback):
    described, _ = finished_execution(aws, answer)
    machine = described["stateMachineArn"].rsplit(":", 1)[-1]
    if machine != config.STATE_MACHINE_PREFIX + "training-parameters":
        raise NotYet(f"That execution ran {machine}; run the §3 state machine, "
                     f"{config.STATE_MACHINE_PREFIX}training-parameters.")
    given = json.loads(described["input"])
    if not given.get("TrainingDataUri", "").endswith(data.WINE_PREFIX):
        feedback.problems.append(f"It trained on {given.get('TrainingDataUri')}; the wine data "
                                 f"is under {data.training_uri(aws, data.WINE_PREFIX)}.")
    leaves = given.get("Hyperparameters", {}).get("max_leaf_nodes")
    if leaves != "2":
        feedback.problems.append(f"max_leaf_nodes was {leaves!r}; the exercise asks for \"2\".")
    expect_status(aws, described, "SUCCEEDED")
    metrics = {m["MetricName"]: m["Value"] for m in
               executions.output(described).get("FinalMetricDataList", [])}
    if feedback.passed:
        feedback.notes.append(f"train:accuracy {metrics.get('train:accuracy', float('nan')):.2f} "
                              "with 2 leaves: at most two of wine's three classes can be told "
                              "apart, so a third of the rows or so must be wrong.")


@exercise("05.2", "The longest ModelPrefix",
          "a number: the longest ModelPrefix that fits with a 24-character execution name")
def _longest_prefix(aws, answer, feedback):
    from .. import inputs  # here: it imports the SageMaker SDK, which the early notebooks skip
    whole_number(answer, "a whole number of characters")
    execution_name = "x" * 24
    longest = inputs.JOB_NAME_LIMIT - 1 - len(execution_name)
    if answer == longest + 1:
        feedback.problems.append(f"With {answer} characters the job name is {answer} + 1 (the "
                                 f"'-' of '{{}}-{{}}') + 24 = {answer + 25}: one over SageMaker's "
                                 f"{inputs.JOB_NAME_LIMIT}.")
    elif answer != longest:
        feedback.problems.append(f"The job name is ModelPrefix + '-' + the execution name and "
                                 f"may have {inputs.JOB_NAME_LIMIT} characters; {answer} is "
                                 f"{'too long' if answer > longest else 'shorter than need be'}.")
    if feedback.passed:
        fits = inputs.training_input(aws, "p" * longest, {})
        over = dict(fits, ModelPrefix="p" * (longest + 1))
        problem = inputs.problems(over, aws.bucket, execution_name).get("ModelPrefix")
        feedback.notes.append(f"{longest} + 1 + 24 = {inputs.JOB_NAME_LIMIT}. One more "
                              f"character and validate says: {problem}")


