"""The exercises of notebook 09 · Evaluate before deploying."""
from __future__ import annotations

import json

from .. import config, more_workflows
from . import NotYet, exercise
from .common import AN_EXECUTION, finished_execution, short

MACHINE = f"{config.STATE_MACHINE_PREFIX}evaluate-before-deploy"


def _report(aws, execution_arn: str) -> dict:
    try:
        return more_workflows.evaluation_report(aws, execution_arn)
    except LookupError as error:
        raise NotYet(f"No evaluation report: {error}.") from None


def _accuracy(report: dict) -> float:
    return report["multiclass_classification_metrics"]["accuracy"]["value"]


@exercise("09.1", "The accuracy the evaluation reported",
          "a number: the accuracy in the report of the run above the threshold")
def _the_accuracy(aws, answer, feedback):
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        raise NotYet(f"`answer` should be a number; got {short(answer)}.")
    latest = more_workflows.latest_successful_run(aws, "evaluate-before-deploy")
    if latest is None:
        raise NotYet(f"There is no successful run of {MACHINE} yet: run the notebook's "
                     "workflow above the threshold first.")
    report = _report(aws, latest)
    accuracy = _accuracy(report)
    f1 = report["multiclass_classification_metrics"]["weighted_f1"]["value"]
    if answer == f1 and f1 != accuracy:
        feedback.problems.append(f"{answer} is the weighted F1 score; the question is the "
                                 "accuracy.")
    elif abs(answer - accuracy) > 1e-9:
        feedback.problems.append(f"{answer} is not it: read multiclass_classification_metrics"
                                 ".accuracy.value of the report (or accuracy in ExitMessage).")
    if feedback.passed:
        feedback.notes.append(f"{accuracy} on {report['rows']} held-out rows.")


@exercise("09.2", "The highest threshold that deploys", AN_EXECUTION)
def _highest_threshold(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    if "Accurate enough?" not in definition.get("States", {}):
        raise NotYet(f"The workflow you ran is not {MACHINE}: start the notebook's state "
                     "machine.")
    threshold = json.loads(described.get("input") or "{}").get("Threshold")
    accuracy = _accuracy(_report(aws, answer))
    if described["status"] != "SUCCEEDED":
        feedback.problems.append(f"The run ended {described['status']}: with threshold "
                                 f"{threshold} against an accuracy of {accuracy}, the model was "
                                 "not deployed (or the endpoint already existed: delete it "
                                 "first).")
    elif threshold != accuracy:
        feedback.problems.append(f"Threshold {threshold} deploys, but a higher one would too: "
                                 f"the rule is accuracy >= threshold, and the accuracy is "
                                 f"{accuracy}.")
    if feedback.passed:
        feedback.notes.append(f"Threshold {threshold} = the accuracy: the highest that deploys "
                              "(NumericGreaterThanEqualsPath).")
