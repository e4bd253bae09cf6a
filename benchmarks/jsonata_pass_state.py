"""Cost of a JSONata Pass state against the same JSONPath Pass state on the local Step Functions
(ms per state, both in one run): a chain of STATES Pass states that each build the same small
object from the input and the context object, timed from the execution's first to its last event.
"""
import json
import statistics
import sys
import tempfile
import time

import boto3
from botocore.config import Config

STATES = 200
RUNS = 5
JSONPATH_STATE = {"Type": "Pass", "Parameters": {
    "job.$": "States.Format('{}-{}', $.prefix, $$.Execution.Name)", "prefix.$": "$.prefix",
    "count.$": "States.MathAdd($.count, 1)"}}
JSONATA_STATE = {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {
    "job": "{% $states.input.prefix & '-' & $states.context.Execution.Name %}",
    "prefix": "{% $states.input.prefix %}", "count": "{% $states.input.count + 1 %}"}}


def chain(state: dict) -> dict:
    names = [f"S{n}" for n in range(STATES)]
    return {"StartAt": names[0], "States": {
        name: dict(state, **({"Next": names[i + 1]} if i + 1 < STATES else {"End": True}))
        for i, name in enumerate(names)}}


def ms_per_state(sfn, arn: str) -> float:
    execution = sfn.start_execution(stateMachineArn=arn,
                                    input=json.dumps({"prefix": "job", "count": 0}))["executionArn"]
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["count"] == STATES
    return (described["stopDate"] - described["startDate"]).total_seconds() * 1000 / STATES


def main():
    from local_aws import LocalAwsServer
    server = LocalAwsServer(state_dir=tempfile.mkdtemp(prefix="bench-jsonata-")).start()
    try:
        sfn = boto3.Session(region_name="us-east-1", **server.credentials.for_boto3()).client(
            "stepfunctions", endpoint_url=server.url, config=Config(inject_host_prefix=False))
        role = "arn:aws:iam::123456789012:role/bench"
        arns = {label: sfn.create_state_machine(
            name=f"bench-{label}", roleArn=role, definition=json.dumps(chain(state)))[
            "stateMachineArn"] for label, state in (("JSONPath", JSONPATH_STATE),
                                                    ("JSONata", JSONATA_STATE))}
        figures = {label: [] for label in arns}
        for _ in range(RUNS):  # interleaved, so that both see the same machine load
            for label, arn in arns.items():
                figures[label].append(ms_per_state(sfn, arn))
        print(f"{STATES} Pass states per execution, {RUNS} executions each (median, min)")
        for label, values in figures.items():
            print(f"{label + ' Pass state':<22} {statistics.median(values):6.2f} ms/state  "
                  f"(min {min(values):.2f})")
        extra = statistics.median(figures["JSONata"]) - statistics.median(figures["JSONPath"])
        print(f"JSONata costs {extra:+.2f} ms per state")
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
