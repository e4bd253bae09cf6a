"""What each notebook's Setup cell calls: re-create, idempotently, what earlier notebooks made,
so that any notebook runs on a fresh kernel (and on a freshly started local AWS); and `reset`,
which puts one notebook back at its start after an experiment went wrong."""
from __future__ import annotations

import time

import pandas as pd

from . import alerts, config, container, data, faults, hosting, prerequisites

STEPS = ("prerequisites", "image", "data")
# The state machines each notebook creates (besides its exercises', "exercise-<NN>-...").
NOTEBOOK_WORKFLOWS = {"03": ("training",),
                      "04": ("training-retry-notify", "training-retry-notify-detailed"),
                      "05": ("training-parameters",), "06": ("train-multiple",),
                      "07": ("train-and-host",)}
NOTEBOOKS = ("00", "01", "02", "03", "04", "05", "06", "07")
# Notebook 12 (JSONata and variables).
NOTEBOOK_WORKFLOWS["12"] = ("training-retry-notify-jsonata", "training-redrivable-jsonata")
NOTEBOOKS += ("12",)


def rebuild(aws, upto: str = "data") -> str:
    """Ensure the prerequisites (00), the image (01) and the training data (02), up to `upto`."""
    if upto not in STEPS:
        raise ValueError(f"upto must be one of {', '.join(STEPS)}; got {upto!r}")
    done = []
    table = prerequisites.ensure_all(aws)
    done.append(f"{len(table)} prerequisites ({(table['this run'] == 'created').sum()} created)")
    if upto in ("image", "data"):
        done.append(f"image {container.publish_image(aws)}")
    if upto == "data":
        done.append(f"{len(data.upload(aws))} training file(s) in {data.training_uri(aws)}")
    return f"Ready on {aws.describe()}: " + "; ".join(done)


def _owned_by(notebook: str, machine_name: str) -> bool:
    names = {config.STATE_MACHINE_PREFIX + name for name in NOTEBOOK_WORKFLOWS.get(notebook, ())}
    exercises = f"{config.STATE_MACHINE_PREFIX}exercise-{notebook}-"
    return machine_name in names or machine_name.startswith(exercises)


def _delete_state_machine(sfn, arn: str, timeout: float = 120):
    """Stop its running executions, delete it, and wait until it is gone (AWS deletes
    asynchronously, and a state machine of the same name cannot be created until then)."""
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn,
                                                              statusFilter="RUNNING"):
        for execution in page["executions"]:
            sfn.stop_execution(executionArn=execution["executionArn"],
                               error="Reset", cause="helpers.reset")
    sfn.delete_state_machine(stateMachineArn=arn)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            sfn.describe_state_machine(stateMachineArn=arn)
        except sfn.exceptions.StateMachineDoesNotExist:
            return
        time.sleep(1)
    raise TimeoutError(f"{arn} was still being deleted after {timeout} s; try again later.")


def _bucket_exists(aws) -> bool:
    try:
        aws.client("s3").head_bucket(Bucket=aws.bucket)
        return True
    except aws.client("s3").exceptions.ClientError:
        return False


def reset(aws, notebook: str) -> pd.DataFrame:
    """Put notebook `notebook` ("00"-"07") back at its start: delete the state machines it and
    its exercises made (their executions go with them), stop its endpoint, take away what an
    experiment added to the training data, then rebuild what the notebook starts from. Run its
    cells again from the top afterwards. Returns what was done."""
    if notebook not in NOTEBOOKS:
        raise ValueError(f"notebook must be one of {', '.join(NOTEBOOKS)}; got {notebook!r}")
    done = []
    sfn = aws.client("stepfunctions")
    machines = [m for page in sfn.get_paginator("list_state_machines").paginate()
                for m in page["stateMachines"] if _owned_by(notebook, m["name"])]
    for machine in machines:
        _delete_state_machine(sfn, machine["stateMachineArn"])
        done.append(("state machine", machine["name"], "deleted, with its executions"))
    if notebook in ("04", "12"):
        if aws.settings.is_local:
            faults.clear(aws)
        alerts.subscribe_queue(aws)
        done.append(("alert inbox", alerts.queue_name(aws),
                     f"emptied ({len(alerts.receive(aws, timeout=0))} alert(s))"))
    if notebook == "07":
        done.append(("endpoint", config.ENDPOINT_NAME, hosting.delete_endpoint(aws)))
    s3 = aws.client("s3")
    if notebook >= "02" and _bucket_exists(aws):
        for uri in data.strays(aws):
            s3.delete_object(Bucket=aws.bucket, Key=uri.split("/", 3)[3])
            done.append(("S3 object", uri, "removed from the training data"))
    upto = {"00": "prerequisites", "01": "prerequisites", "02": "prerequisites"}.get(notebook,
                                                                                   "data")
    done.append(("rebuild", f"up to {upto}", rebuild(aws, upto)))
    return pd.DataFrame(done, columns=["what", "name", "done"])
