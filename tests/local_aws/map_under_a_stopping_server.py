"""A Map of two `.sync` training jobs with the local AWS stopped under it; prints how the
execution ended, as JSON. Run as a child process by tests/test_hardening.py (a LocalAwsServer is
one per process, and the test session has its own):
    python -m tests.local_aws.map_under_a_stopping_server jobs-end-first|server-first"""
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from local_aws import LocalAwsServer
from tests.conftest import Clients, register_image, training_request


def main(jobs_end_first: bool):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message).400s")
    work = Path(tempfile.mkdtemp())
    slow_programs = work / "programs"
    slow_programs.mkdir()
    (slow_programs / "train").write_text("#!/bin/sh\nsleep 60\n")
    (slow_programs / "train").chmod(0o755)
    server = LocalAwsServer(state_dir=work / "state", max_parallel_jobs=2).start()
    clients = Clients(server.url, server.credentials)
    clients("iam").create_role(RoleName="sm", AssumeRolePolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Principal": {"Service": "sagemaker.amazonaws.com"}}]}))
    clients.role_arn = "arn:aws:iam::123456789012:role/sm"
    clients("s3").create_bucket(Bucket="test-bucket-local-aws")
    request = training_request(clients, "unused", image=register_image(
        clients, "slow", slow_programs))
    request["InputDataConfig"] = []
    del request["TrainingJobName"]
    request["TrainingJobName.$"] = "States.Format('map-{}', $.n)"
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "Train", "States": {"Train": {
                "Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                "Parameters": request, "End": True}}}}}}
    sfn = clients("stepfunctions")
    machine = sfn.create_state_machine(name="map", definition=json.dumps(definition),
                                       roleArn=clients.role_arn)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="under-stop",
                                    input='{"items": [{"n": 1}, {"n": 2}]}')["executionArn"]
    deadline = time.monotonic() + 60
    while server.sagemaker.running_programs() < 2:
        assert time.monotonic() < deadline, "the training programs never started"
        time.sleep(0.05)
    if jobs_end_first:  # the jobs end Stopped while the server still answers the poll
        server.sagemaker.shutdown()
        time.sleep(1)
    server.stop()
    # The server is gone: read the execution from moto's backend, in this process.
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends
    backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
    while (described := backend.describe_execution(execution)).status == "RUNNING":
        assert time.monotonic() < deadline, "the execution never ended"
        time.sleep(0.05)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"status": str(described.status), "error": described.error,
                      "cause": described.cause}), flush=True)
    os._exit(0)  # moto's execution threads are not daemons: do not wait for them



if __name__ == "__main__":
    main(jobs_end_first=sys.argv[1] == "jobs-end-first")
