"""The exercises of notebook 10 · Hyperparameter tuning."""
from __future__ import annotations

from .. import executions
from ..graph import all_states
from . import NotYet, exercise
from .common import (
    AN_EXECUTION,
    expect_status,
    finished_execution,
    newest_successful_run,
    number_of_leaves,
)

TUNING_RESOURCE = "createHyperParameterTuningJob"


def _newest_tuning_job(aws) -> dict:
    """The tuning job of the newest successful run of the notebook's `tuning` workflow."""
    output = executions.output(newest_successful_run(aws, "tuning"))
    return aws.client("sagemaker").describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=output["HyperParameterTuningJobName"])


@exercise("10.1", "The winner", "the best job's max_leaf_nodes (a number)")
def _the_winner(aws, answer, feedback):
    leaves = number_of_leaves(answer)
    best = _newest_tuning_job(aws).get("BestTrainingJob")
    if not best:
        raise NotYet("The newest tuning job has no BestTrainingJob: did every job fail?")
    right = int(best["TunedHyperParameters"]["max_leaf_nodes"])
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    if leaves != right:
        feedback.problems.append(
            f"{leaves} is not it: look at BestTrainingJob.TunedHyperParameters in the tuning "
            "job's description (the .sync task's output), not at the first row of a table.")
    else:
        feedback.notes.append(f"{right} leaves, {best['TrainingJobName']}: validation accuracy "
                              f"{value:.4f}.")


@exercise("10.2", "A grid instead", AN_EXECUTION)
def _a_grid(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    tasks = [state for state in all_states(definition).values()
             if TUNING_RESOURCE in state.get("Resource", "")]
    if not tasks:
        raise NotYet("The workflow you ran has no tuning task (a Task whose Resource is "
                     "arn:aws:states:::sagemaker:createHyperParameterTuningJob.sync).")
    config_ = tasks[0]["Parameters"]["HyperParameterTuningJobConfig"]
    ranges = config_.get("ParameterRanges", {})
    if config_.get("Strategy") != "Grid":
        feedback.problems.append(f"The strategy is {config_.get('Strategy')}: set "
                                 "strategy=\"Grid\".")
    categorical = {r["Name"]: r["Values"] for r in ranges.get("CategoricalParameterRanges", [])}
    if ranges.get("IntegerParameterRanges") or ranges.get("ContinuousParameterRanges"):
        feedback.problems.append("A grid takes categorical ranges only: use "
                                 "CategoricalParameter, not IntegerParameter.")
    elif sorted(categorical.get("max_leaf_nodes", []), key=int) != ["2", "4", "8", "16"]:
        feedback.problems.append(f"The grid is {categorical}; the exercise asks for "
                                 "max_leaf_nodes in ['2', '4', '8', '16'].")
    expect_status(aws, described, "SUCCEEDED")
    if not feedback.passed:
        return
    output = executions.output(described)
    tried = sorted(int(job["TunedHyperParameters"]["max_leaf_nodes"]) for job in aws.client(
        "sagemaker").list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=output["HyperParameterTuningJobName"])[
        "TrainingJobSummaries"])
    if tried != [2, 4, 8, 16]:
        feedback.problems.append(f"The tuning job tried {tried}: a grid tries every value once.")
    else:
        best = output["BestTrainingJob"]["TunedHyperParameters"]["max_leaf_nodes"]
        feedback.notes.append(f"Four jobs, one per value of the grid; the best had {best} "
                              "leaves. A grid is exhaustive: its size is the product of the "
                              "numbers of values.")
