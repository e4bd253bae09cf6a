"""Running executions: wait with visible progress, then read status, history, output and logs."""
from __future__ import annotations

import json
import time

import pandas as pd
from botocore.exceptions import EndpointConnectionError

from . import config
from .display import StatusLine

# A training job's secondary statuses in order: its progress bar counts them.
TRAINING_PHASES = ("Starting", "Downloading", "Training", "Uploading", "Completed")


def phase_bar(secondary_status: str) -> str:
    """[■■■□□] for a training job in its third phase (Training) of five."""
    done = TRAINING_PHASES.index(secondary_status) + 1 if secondary_status in TRAINING_PHASES \
        else 0
    return "[" + "■" * done + "□" * (len(TRAINING_PHASES) - done) + "]"


class ExecutionTimeout(TimeoutError):
    pass


class LocalAwsGone(RuntimeError):
    pass


def describe(aws, execution_arn: str) -> dict:
    return aws.client("stepfunctions").describe_execution(executionArn=execution_arn)


def events(aws, execution_arn: str) -> list[dict]:
    sfn = aws.client("stepfunctions")
    return [event for page in sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn) for event in page["events"]]


def _running_training_job(aws, history: list[dict]) -> str | None:
    """The training job of the task that is running now, from its TaskScheduled event."""
    for event in reversed(history):
        details = event.get("taskScheduledEventDetails")
        if details and details.get("resource", "").startswith("createTrainingJob"):
            return json.loads(details["parameters"]).get("TrainingJobName")
        if event["type"].endswith("StateExited"):
            return None
    return None


def _progress(aws, execution_arn: str) -> str:
    """What the execution is doing now: its state and, for a training task, the job's status."""
    history = events(aws, execution_arn)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history
               if "stateEnteredEventDetails" in e]
    text = f"state {entered[-1]}" if entered else "starting"
    job = _running_training_job(aws, history)
    if job:
        sagemaker = aws.client("sagemaker")
        try:
            described = sagemaker.describe_training_job(TrainingJobName=job)
            text += (f" · training job {job} {phase_bar(described['SecondaryStatus'])} "
                     f"{described['TrainingJobStatus']} ({described['SecondaryStatus']})")
        except sagemaker.exceptions.ClientError:
            text += f" · training job {job}: being created"
    return text


def wait(aws, execution_arn: str, timeout: float | None = None) -> dict:
    """Wait for the execution to end, showing its state (and training job) as it goes.

    Returns DescribeExecution. Raises ExecutionTimeout after `timeout` seconds (default: 10
    minutes locally, 3 hours on AWS) and leaves the execution running.
    """
    local = aws.settings.is_local
    timeout = timeout or (600 if local else 3 * 3600)
    poll = 0.1 if local else 5.0
    line = StatusLine()
    started = time.monotonic()
    while True:
        try:
            described = describe(aws, execution_arn)
            progress = _progress(aws, execution_arn) if described["status"] == "RUNNING" else ""
        except EndpointConnectionError:
            if not local:
                raise
            raise LocalAwsGone(
                f"The local AWS at {aws.endpoint_url} stopped answering while this execution ran "
                "(was it stopped, or its process killed?). Its state went with it. Run this "
                "notebook again from the top: its Setup cell starts a new local AWS and "
                "re-creates what it needs.") from None
        elapsed = time.monotonic() - started
        if described["status"] != "RUNNING":
            duration = (described["stopDate"] - described["startDate"]).total_seconds()
            line.update(f"{described['status']} after {duration:.1f} s: {described['name']}")
            return described
        line.update(f"RUNNING · {elapsed:5.1f} s · {progress}", milestone=progress)
        if elapsed > timeout:
            raise ExecutionTimeout(
                f"{described['name']} is still running after {timeout:.0f} s. It goes on; stop it "
                f"with aws.client('stepfunctions').stop_execution(executionArn='{execution_arn}').")
        time.sleep(poll)


def _state_names(history: list[dict]) -> dict[int, str]:
    """Event id -> the state it belongs to (entered/exited events name it; others follow
    previousEventId back to one that does)."""
    names: dict[int, str] = {}
    for event in history:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails")
        names[event["id"]] = details["name"] if details else names.get(
            event.get("previousEventId", 0), "")
    return names


DETAIL_CHARACTERS = 90  # a history row stays one line; failures() shows a cause whole


def _detail(event: dict) -> str:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            if value.get("error"):
                text = f"{value['error']}: {' '.join((value.get('cause') or '').split())}"
                return text if len(text) <= DETAIL_CHARACTERS else \
                    text[:DETAIL_CHARACTERS - 1] + "…"
            if value.get("resource"):
                return f"{value.get('resourceType', '')}:{value['resource']}"
    return ""


def history(aws, execution_arn: str) -> pd.DataFrame:
    """The event history as a table: id, state, event, seconds since the start, detail."""
    history_events = events(aws, execution_arn)
    if not history_events:
        return pd.DataFrame(columns=["id", "state", "event", "t (s)", "detail"])
    start = history_events[0]["timestamp"]
    names = _state_names(history_events)
    return pd.DataFrame([
        {"id": e["id"], "state": names[e["id"]], "event": e["type"],
         "t (s)": round((e["timestamp"] - start).total_seconds(), 3), "detail": _detail(e)}
        for e in history_events]).set_index("id")


def output(described: dict):
    """An execution's output (or, if it failed, its error and cause) as a Python value."""
    if described.get("output") is not None:
        return json.loads(described["output"])
    return {"error": described.get("error"), "cause": described.get("cause")}


# What a person reads first in a DescribeTrainingJob response (a training task's output).
TRAINING_JOB_ESSENTIALS = ("TrainingJobName", "TrainingJobStatus", "SecondaryStatus",
                           "FailureReason", "HyperParameters", "ModelArtifacts",
                           "FinalMetricDataList", "ResourceConfig", "TrainingTimeInSeconds",
                           "BillableTimeInSeconds")


def training_job_essentials(job: dict) -> dict:
    """A DescribeTrainingJob response cut to the fields that matter (those it has)."""
    return {field: job[field] for field in TRAINING_JOB_ESSENTIALS if field in job}


def training_logs(aws, job_name: str) -> list[str]:
    """The training job's log lines, from CloudWatch Logs (group /aws/sagemaker/TrainingJobs)."""
    logs = aws.client("logs")
    streams = logs.describe_log_streams(logGroupName=config.TRAINING_LOG_GROUP,
                                        logStreamNamePrefix=f"{job_name}/")["logStreams"]
    lines = []
    for stream in streams:
        for page in logs.get_paginator("filter_log_events").paginate(
                logGroupName=config.TRAINING_LOG_GROUP, logStreamNames=[stream["logStreamName"]]):
            lines += [event["message"] for event in page["events"]]
    return lines


def retries(aws, execution_arn: str) -> pd.DataFrame:
    """Each retry of a Task: the error that caused it and how long Step Functions waited before
    scheduling the task again (the Retry policy's IntervalSeconds x BackoffRate^n)."""
    history_events = events(aws, execution_arn)
    names = _state_names(history_events)
    rows, last_failure = [], {}
    for event in history_events:
        state = names[event["id"]]
        if event["type"] == "TaskFailed":
            last_failure[state] = event
        elif event["type"] == "TaskScheduled" and state in last_failure:
            failed = last_failure.pop(state)
            rows.append({"state": state, "retry": sum(r["state"] == state for r in rows) + 1,
                         "after error": failed["taskFailedEventDetails"]["error"],
                         "waited (s)": round((event["timestamp"] - failed["timestamp"])
                                             .total_seconds(), 3)})
    return pd.DataFrame(rows, columns=["state", "retry", "after error", "waited (s)"])


def failures(aws, execution_arn: str) -> pd.DataFrame:
    """Every failed task of the execution with its error, and the reason inside the cause (a
    failed training job's cause is its DescribeTrainingJob: its FailureReason is shown)."""
    history_events = events(aws, execution_arn)
    names = _state_names(history_events)
    rows = []
    for event in history_events:
        details = event.get("taskFailedEventDetails")
        if details:
            cause = details.get("cause") or ""
            try:
                cause = json.loads(cause).get("FailureReason", cause)
            except (ValueError, AttributeError):
                pass
            rows.append({"state": names[event["id"]], "error": details.get("error"),
                         "reason": cause})
    return pd.DataFrame(rows, columns=["state", "error", "reason"])


def jobs_table(descriptions: list[dict]) -> pd.DataFrame:
    """Training jobs (DescribeTrainingJob outputs) as one row each: name, hyperparameters,
    status, the final value of each metric, and the training time."""
    rows = []
    for job in descriptions:
        row = {"job": job["TrainingJobName"], "status": job["TrainingJobStatus"],
               "hyperparameters": ", ".join(f"{k}={v}" for k, v in
                                            sorted(job.get("HyperParameters", {}).items())),
               "seconds": job.get("TrainingTimeInSeconds")}
        row.update({m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])})
        rows.append(row)
    return pd.DataFrame(rows)


def compare(aws, runs: dict[str, str]) -> pd.DataFrame:
    """Executions of a training workflow side by side: {label: execution ARN} -> a table of their
    status and their training job (name, hyperparameters, metrics, time, data)."""
    rows = []
    for label, execution_arn in runs.items():
        described = describe(aws, execution_arn)
        job = output(described) if described["status"] == "SUCCEEDED" else None
        row = {"run": label, "execution status": described["status"]}
        if job:
            row.update(jobs_table([job]).iloc[0].to_dict())
            row["training data"] = job["InputDataConfig"][0]["DataSource"]["S3DataSource"][
                "S3Uri"].split("/input/data/")[-1]
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")


def timeline(descriptions: list[dict]) -> pd.DataFrame:
    """When each training job ran, in seconds since the first one started (from the jobs'
    TrainingStartTime/TrainingEndTime, epoch milliseconds in a workflow's output)."""
    first = min(job["TrainingStartTime"] for job in descriptions)
    return pd.DataFrame([{"job": job["TrainingJobName"],
                          "started (s)": round((job["TrainingStartTime"] - first) / 1000, 2),
                          "ended (s)": round((job["TrainingEndTime"] - first) / 1000, 2)}
                         for job in descriptions]).sort_values("started (s)")


def _fold_loops(names: list[str], longest: int = 4) -> list[str]:
    """Consecutive repeats of a run of states, as one line "n × [a → b → c]"."""
    lines, i = [], 0
    while i < len(names):
        for size in range(1, longest + 1):
            block, repeats = names[i:i + size], 1
            while names[i + repeats * size:i + (repeats + 1) * size] == block:
                repeats += 1
            if repeats > 1 and len(block) == size:
                lines.append(f"{repeats} × [{' → '.join(block)}]")
                i += repeats * size
                break
        else:
            lines.append(names[i])
            i += 1
    return lines


def path(aws, execution_arn: str) -> str:
    """The states the execution entered, in order, one per line; a loop (a Wait, a check and a
    Choice, say) is one line saying how many times it went round."""
    entered = [event["stateEnteredEventDetails"]["name"] for event in events(aws, execution_arn)
               if "stateEnteredEventDetails" in event]
    return "\n".join(_fold_loops(entered))
