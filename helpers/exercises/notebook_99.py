"""The exercises of notebook 99 · Clean up."""
from __future__ import annotations

from .. import cleanup, config
from . import NotYet, exercise
from .common import short, whole_number


@exercise("99.1", "What the clean-up leaves",
          "a number: how many training jobs of the series remain")
def _jobs_left(aws, answer, feedback):
    whole_number(answer, "a whole number of training jobs")
    jobs = cleanup.series_training_jobs(aws)
    if answer != len(jobs):
        feedback.problems.append(f"{answer} is not it: count the training jobs whose RoleArn is "
                                 f"the series' role, {config.SAGEMAKER_ROLE} (other jobs of the "
                                 "account are not the series').")
    if feedback.passed:
        feedback.notes.append(f"{len(jobs)} jobs stay: SageMaker has no DeleteTrainingJob. A "
                              "finished job costs nothing; its model in S3 and its log stream "
                              "(deleted above) would.")


@exercise("99.2", "What comes back", "the list helpers.cleanup.plan(aws) returns after you "
          "rebuilt notebook 00's resources")
def _what_comes_back(aws, answer, feedback):
    if not isinstance(answer, list):
        raise NotYet(f"`answer` should be the list plan(aws) returns; got {short(answer)}.")
    now = cleanup.plan(aws)
    kinds = {kind for kind, _ in now}
    if not now:
        raise NotYet("plan(aws) finds nothing right now: rebuild notebook 00's resources "
                     "first (helpers.rebuild(aws, upto='prerequisites')), then plan.")
    if sorted(map(tuple, answer)) != sorted(now):
        feedback.problems.append(f"Your list differs from what plan(aws) finds now "
                                 f"({len(answer)} vs {len(now)} items): plan again after the "
                                 "rebuild, and check before you delete.")
    for needed in ("IAM role", "SNS topic", "S3 bucket"):
        if needed not in kinds:
            feedback.problems.append(f"No {needed} is back: notebook 00 creates it.")
    if feedback.passed:
        feedback.notes.append(f"Back: {sorted(kinds)}. Not back: state machines, models and the "
                              "image: later notebooks make those, and a rebuild up to 00 does "
                              "not.")
