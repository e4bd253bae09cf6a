"""The exercises of notebook 04 · Retry, Catch, SNS, Fail."""
from __future__ import annotations

from . import NotYet, exercise
from .common import (
    AN_EXECUTION,
    error_list,
    expect_status,
    finished_execution,
    states_entered,
    training_task,
)


@exercise("04.1", "A Retry for States.Timeout", AN_EXECUTION)
def _timeout_retry(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    name, task = training_task(definition)
    if "TimeoutSeconds" not in task:
        feedback.problems.append(f"{name} has no TimeoutSeconds, so it never times out and a "
                                 "Retry for States.Timeout can never fire. Pass "
                                 "timeout_seconds=60.")
    retriers = task.get("Retry", [])
    for retrier in retriers:
        if error_list(retrier) == ["States.ALL"]:
            feedback.problems.append("Your Retry catches States.ALL; the task asked for "
                                     "States.Timeout only (States.ALL would also retry a job "
                                     "that failed on bad data).")
    on_timeout = [r for r in retriers if "States.Timeout" in error_list(r)]
    if not on_timeout:
        feedback.problems.append(f"No Retry of {name} lists States.Timeout (its retriers match "
                                 f"{[error_list(r) for r in retriers]}).")
    elif error_list(on_timeout[0]) != ["States.Timeout"]:
        others = [e for e in error_list(on_timeout[0]) if e != "States.Timeout"]
        feedback.problems.append(f"The Retry for States.Timeout also matches {others}; the task "
                                 "asked for States.Timeout only.")
    job_name = task.get("Parameters", {}).get("TrainingJobName.$", "")
    if "$$.State.RetryCount" not in job_name:
        feedback.problems.append(f"The job name {job_name!r} does not include "
                                 "$$.State.RetryCount. A timeout comes after the job was "
                                 "created, so the retry would ask for a job of the same name: "
                                 "SageMaker rejects it (names must be unique), and the "
                                 "document's Retry retries that rejection in vain. Use "
                                 "job_name=helpers.workflows.DETAILED_JOB_NAME.")
    if not any(error_list(r) == ["SageMaker.AmazonSageMakerException"] for r in retriers):
        feedback.problems.append("The document's Retry for SageMaker.AmazonSageMakerException is "
                                 "gone: keep it and add the new one.")
    expect_status(aws, described, "SUCCEEDED")
    if feedback.passed:
        feedback.notes.append(f"TimeoutSeconds {task['TimeoutSeconds']}: a job still running "
                              "then fails the state with States.Timeout, and your Retry starts "
                              "a new one (the running job is not stopped: on AWS, stop it "
                              "yourself or it keeps billing).")


@exercise("04.2", "Retrying a failed training job", AN_EXECUTION)
def _task_failed_retry(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    name, task = training_task(definition)
    on_failure = [r for r in task.get("Retry", []) if "States.TaskFailed" in error_list(r)]
    if not on_failure:
        raise NotYet(f"No Retry of {name} lists States.TaskFailed.")
    if on_failure[0].get("MaxAttempts", 3) != 1:
        feedback.problems.append(f"MaxAttempts is {on_failure[0].get('MaxAttempts', 3)} "
                                 "(3 when left out); the exercise asks for one retry.")
    job_name = task.get("Parameters", {}).get("TrainingJobName.$", "")
    if "$$.State.RetryCount" not in job_name:
        feedback.problems.append(f"The job name {job_name!r} does not include "
                                 "$$.State.RetryCount: the retry asks for a job with the failed "
                                 "job's name, which SageMaker rejects. Start from "
                                 "training_retry_notify_detailed.")
    jobs = sorted(job["TrainingJobName"] for job in aws.client("sagemaker").list_training_jobs(
        NameContains=described["name"])["TrainingJobSummaries"])
    if described["status"] == "SUCCEEDED":
        raise NotYet("The execution succeeded: run it with the malformed data in the training "
                     "prefix (helpers.data.temporarily_added(aws, 'iris_malformed.csv')).")
    if len(jobs) != 2:
        feedback.problems.append(f"{len(jobs)} training job(s) ran ({jobs}); one try plus one "
                                 "retry make two.")
    if "Notify Failure" not in states_entered(aws, described["executionArn"]):
        feedback.problems.append("The failure was not announced: the Catch should still lead "
                                 "to Notify Failure after the retry.")
    if feedback.passed:
        feedback.notes.append(f"Two jobs, {jobs[0]} and {jobs[1]}, both failed the same way: "
                              "bad data stays bad, so retrying States.TaskFailed only costs "
                              "another job (and, on AWS, its instance time).")


