"""Notebook 12's JSONata workflows (helpers.jsonata_workflows) on the local AWS: plain dicts run
through the Data Science SDK's own Workflow, do what §2's JSONPath workflow does, and a failed run
is redriven from its training state once the data is fixed."""
import json

import pytest

import helpers
from helpers import jsonata_workflows as jsonata
from helpers import workflows
from tests.conftest import run_workflow


@pytest.fixture
def names(local):
    return workflows.Names.from_aws(local)


def test_the_definitions_are_jsonata_built_from_the_sdks_request(local, names):
    definition = workflows.definition(jsonata.training_retry_notify_jsonata(names, local))
    assert definition["QueryLanguage"] == "JSONata"
    train = definition["States"][jsonata.TRAINING_STATE]
    jsonpath = jsonata.jsonpath_training_state(names, local)
    assert {k for k in train["Arguments"]} == {k.removesuffix(".$")
                                              for k in jsonpath["Parameters"]}
    assert "ResultPath" not in json.dumps(definition) and ".$" not in json.dumps(definition)
    assert workflows.reference("training-redrivable-jsonata", names, local).name == \
        "sagemaker-byo-training-redrivable-jsonata"


def test_the_jsonata_workflow_succeeds_and_alerts_like_the_jsonpath_one(local, names):
    workflow = jsonata.training_retry_notify_jsonata(names, local)
    good = run_workflow(local, workflow)
    assert helpers.executions.describe(local, good)["status"] == "SUCCEEDED"
    bad = run_workflow(local, workflow, bad_data=True)
    described = helpers.executions.describe(local, bad)
    assert (described["status"], described["error"]) == ("FAILED", "States.TaskFailed"), \
        "Fail reports the training's own error, read from the variable the Catch assigned"
    [message] = helpers.alerts.receive(local, at_least=1)["message"]
    job = f"sagemaker-bring-your-own-{described['name']}-0-0"
    assert message == (f"Training failed in execution {described['name']}. Error: "
                       f"States.TaskFailed. Cause: training job {job} failed: "
                       "training/iris_malformed.csv, row 73, column 3: '?' is not a number.")


def test_a_failed_run_is_redriven_from_the_training_state_after_the_data_is_fixed(local, names):
    workflow = jsonata.training_redrivable_jsonata(names, local)
    failed = run_workflow(local, workflow, bad_data=True)  # the bad file is gone afterwards
    sfn = local.client("stepfunctions")
    assert sfn.describe_execution(executionArn=failed)["redriveStatus"] == "REDRIVABLE"
    sfn.redrive_execution(executionArn=failed)
    described = helpers.executions.wait(local, failed, timeout=120)
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert output["job"] == f"sagemaker-bring-your-own-{described['name']}-1-0"
    assert output["redrives"] == 1 and output["model"].endswith("model.tar.gz")
    jobs = sorted(j["TrainingJobName"] for j in local.client("sagemaker").list_training_jobs(
        NameContains=described["name"])["TrainingJobSummaries"])
    assert [j.rsplit("-", 2)[1:] for j in jobs] == [["0", "0"], ["1", "0"]]


def test_the_endpoint_decision_checked_with_test_state(local):
    sfn = local.client("stepfunctions")
    decision = jsonata.endpoint_decision()
    choice = {"QueryLanguage": "JSONata", **decision["Create or update?"]}
    not_found = {"Error": "SageMaker.SageMakerException",
                 "Cause": 'Could not find endpoint "arn:aws:sagemaker:...:endpoint/x".'}
    denied = {"Error": "SageMaker.SageMakerException", "Cause": "User is not authorized"}
    for variables, expected in (({"endpointExists": True, "lookupError": None}, "Update endpoint"),
                                ({"endpointExists": False, "lookupError": not_found},
                                 "Create endpoint"),
                                ({"endpointExists": False, "lookupError": denied},
                                 "Notify Failure")):
        tested = sfn.test_state(definition=json.dumps(choice), input="{}",
                                variables=json.dumps(variables))
        assert (tested["status"], tested["nextState"]) == ("SUCCEEDED", expected), variables
    find = {"QueryLanguage": "JSONata", **decision["Find the endpoint"]}
    caught = sfn.test_state(definition=json.dumps(find), input='{"run": 1}',
                            inspectionLevel="DEBUG", mock={"errorOutput": {
                                "error": "SageMaker.SageMakerException",
                                "cause": "Could not find endpoint"}})
    assert (caught["status"], caught["nextState"]) == ("CAUGHT_ERROR", "Create or update?")
