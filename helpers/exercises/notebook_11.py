"""The exercises of notebook 11 · Many models with a Distributed Map."""
from __future__ import annotations

import json

from .. import scale_workflows
from . import NotYet, exercise
from .common import AN_EXECUTION, finished_execution, newest_successful_run, number_of_leaves

THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"


def _distributed_maps(definition: dict) -> dict:
    return {name: state for name, state in definition["States"].items()
            if state["Type"] == "Map" and (state.get("ItemProcessor") or {}).get(
                "ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"}


@exercise("11.1", "No failure tolerated", AN_EXECUTION)
def _no_failure_tolerated(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    maps = _distributed_maps(definition)
    if not maps:
        raise NotYet("The workflow you ran has no Distributed Map (a Map whose ItemProcessor has "
                     "ProcessorConfig.Mode DISTRIBUTED): start from `many`.")
    state = next(iter(maps.values()))
    tolerated = {key: state[key] for key in ("ToleratedFailurePercentage",
                                             "ToleratedFailureCount") if state.get(key)}
    if tolerated:
        feedback.problems.append(f"The Map still tolerates failures ({tolerated}): remove "
                                 "ToleratedFailurePercentage (0, the default, tolerates none).")
    if "ItemReader" not in state:
        feedback.problems.append("The Map has no ItemReader: keep reading the CSV from S3, "
                                 "whose last row fails.")
    if described["status"] != "FAILED":
        feedback.problems.append(f"The execution ended {described['status']}: with no failure "
                                 "tolerated, the 1-leaf row should fail the Map Run.")
    elif described.get("error") != THRESHOLD_ERROR:
        feedback.problems.append(f"The execution failed with {described.get('error')}, not "
                                 f"{THRESHOLD_ERROR}: did a child fail for another reason?")
    if feedback.passed:
        feedback.notes.append(f"One failed item out of eight was one too many: the Map Run "
                              f"failed with {THRESHOLD_ERROR}, and so did the execution (a "
                              "Catch on the Map state could handle it).")


def _latest_results(aws) -> dict:
    """The ResultWriter results of the newest successful run of the many-models workflow."""
    return scale_workflows.map_run_results(aws, newest_successful_run(aws, "many-models"))


@exercise("11.2", "The best of many, from S3", "the max_leaf_nodes of the best model (a number)")
def _best_of_many(aws, answer, feedback):
    leaves = number_of_leaves(answer)
    scores = []
    for child in _latest_results(aws).get("SUCCEEDED", []):
        job = json.loads(child["Output"])
        accuracy = {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])}
        scores.append((-accuracy.get("validation:accuracy", 0.0),
                       int(job["HyperParameters"]["max_leaf_nodes"])))
    if not scores:
        raise NotYet("The newest run's SUCCEEDED_0.json lists no trained model.")
    best_score, best = min(scores)
    ours = [score for score, count in scores if count == leaves]
    if leaves == best:
        feedback.notes.append(f"{best} leaves: validation accuracy {-best_score:.4f}, and no "
                              "smaller tree does as well.")
    elif not ours:
        feedback.problems.append(f"No model of the newest run has {leaves} leaves; the rows "
                                 f"were {sorted(count for _, count in scores)}.")
    elif ours[0] == best_score:
        feedback.problems.append(f"{leaves} leaves is as accurate as the best, but a smaller "
                                 "tree does as well: among equals, take the fewest leaves.")
    else:
        feedback.problems.append(f"{leaves} leaves is not it: its validation accuracy is "
                                 f"{-ours[0]:.4f}, and another model does better.")
