"""The preflight's list of what the learner's identity must be allowed is checked against the
calls the helpers really make: every boto3 call of a run through the series' steps (set-up,
image, data, workflows, execution reading, alerts, hosting, exercises, reset, clean-up) is
recorded and must be on the list."""
import itertools

import boto3

import helpers
from helpers import preflight, workflows
from tests.conftest import REGION, series_aws


def test_the_learner_actions_cover_every_call_the_helpers_make(server):
    calls = set()
    session = boto3.Session(region_name=REGION, **server.credentials.for_boto3())
    session.events.register("before-call", lambda model, **_: calls.add(
        (model.service_model.service_name, model.name)))
    aws = series_aws(server, session)  # set-up, image, data, inbox: recorded too
    helpers.data.upload_split(aws)
    names = workflows.Names.from_aws(aws)
    for name in ("training", "train-and-host"):
        arn = workflows.create_or_update(aws, workflows.build(name, names, aws))
        execution = workflows.start(aws, arn)
        described = helpers.executions.wait(aws, execution, timeout=120)
        helpers.executions.history(aws, execution)
        helpers.executions.failures(aws, execution)
        helpers.graph.draw_execution(aws, execution)
        helpers.executions.training_logs(aws, helpers.executions.output(described).get(
            "TrainingJobName", "none") if name == "training" else "none")
        helpers.exercises.check(aws, "03.1", execution)
    rows = helpers.data.split("iris.csv")[1]
    helpers.hosting.evaluate(aws, rows)
    helpers.hosting.delete_endpoint(aws)
    helpers.reset(aws, "03")
    helpers.cleanup.delete(aws, helpers.cleanup.plan(aws))
    needed = {preflight.iam_action(service, operation) for service, operation in calls} - {None}
    listed = set(itertools.chain.from_iterable(preflight.LEARNER_ACTIONS.values()))
    assert len(needed) > 40, sorted(needed)  # the recording saw the run
    missing = sorted(needed - listed)
    assert missing == [], "add to preflight.LEARNER_ACTIONS: " + ", ".join(missing)


def test_iam_names_of_boto3_calls():
    assert preflight.iam_action("stepfunctions", "StartExecution") == "states:StartExecution"
    assert preflight.iam_action("sagemaker-runtime", "InvokeEndpoint") == \
        "sagemaker:InvokeEndpoint"
    assert preflight.iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert preflight.iam_action("sts", "GetCallerIdentity") is None
