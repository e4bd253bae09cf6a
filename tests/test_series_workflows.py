"""§3–§5 on the local backend, and the clean-up that removes it all."""
import json

import helpers
from helpers import workflows


def test_section_3_runs_one_definition_with_two_inputs(local):
    helpers.data.upload(local, ["wine.csv"], prefix=helpers.data.WINE_PREFIX)
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.training_parameters(names, local))
    runs = {}
    for prefix, leaves, data_prefix in (("iris-t", "3", helpers.data.TRAINING_PREFIX),
                                        ("wine-t", "8", helpers.data.WINE_PREFIX)):
        execution_input = helpers.inputs.training_input(local, prefix, {"max_leaf_nodes": leaves},
                                                        data_prefix=data_prefix)
        runs[prefix] = helpers.inputs.start_validated(local, arn, execution_input)
        assert helpers.executions.wait(local, runs[prefix])["status"] == "SUCCEEDED"
    table = helpers.executions.compare(local, runs)
    assert list(table["hyperparameters"]) == ["max_leaf_nodes=3", "max_leaf_nodes=8"]
    assert list(table["training data"]) == ["train/", "wine/"]
    assert all(job.startswith(prefix) for job, prefix in zip(table["job"], runs))


def test_section_3_alerts_the_input_topic_with_the_jobs_failure_reason(local):
    """§3's error handling is §2's improved one: the alert carries the failed job's reason."""
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.training_parameters(names, local))
    execution_input = helpers.inputs.training_input(local, "bad-data", {"max_leaf_nodes": "3"})
    with helpers.data.temporarily_added(local, "iris_malformed.csv"):
        execution = helpers.inputs.start_validated(local, arn, execution_input)
        assert helpers.executions.wait(local, execution)["status"] == "FAILED"
    message = helpers.alerts.receive(local, at_least=1)["message"][0]
    assert "Error: States.TaskFailed" in message
    assert "row 73, column 3: '?' is not a number." in message, message


def test_section_4_trains_every_set_concurrently_with_metrics(local):
    helpers.data.upload_split(local)
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.train_multiple(names, local))
    sets = [{"max_leaf_nodes": leaves} for leaves in ("2", "8")]
    execution = workflows.start(local, arn, execution_input={"HyperparameterSets": sets})
    described = helpers.executions.wait(local, execution)
    assert described["status"] == "SUCCEEDED"
    result = json.loads(described["output"])
    jobs = result["ParallelResults"] + result["MapResults"]
    table = helpers.executions.jobs_table(jobs)
    assert list(table["hyperparameters"]) == ["max_leaf_nodes=3", "max_leaf_nodes=16",
                                              "max_leaf_nodes=2", "max_leaf_nodes=8"]
    assert table["validation:accuracy"].between(0.5, 1).all()
    assert list(table["job"][2:]) == [f"{described['name']}-set-{i}" for i in range(2)]
    # The two Parallel branches ran at the same time: each started before the other ended.
    shallow, deep = result["ParallelResults"]
    assert shallow["TrainingStartTime"] < deep["TrainingEndTime"]
    assert deep["TrainingStartTime"] < shallow["TrainingEndTime"]
    # The execution's graph colours the states inside the groups too.
    drawn = helpers.graph.draw_execution(local, execution)
    assert all(drawn.statuses[name]["status"] == "succeeded" for name in (
        "Train two configurations", "Train shallow tree", "Train deep tree",
        "Train each hyperparameter set", "Train with this set"))
    assert drawn.svg.count('data-status="succeeded"') == 5


def test_section_5_creates_then_updates_the_endpoint(local):
    helpers.data.upload_split(local)
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.train_and_host(names, local))
    paths = []
    try:
        for _ in range(2):
            execution = workflows.start(local, arn)
            assert helpers.executions.wait(local, execution)["status"] == "SUCCEEDED"
            history = helpers.executions.history(local, execution)
            paths.append(list(history[history["event"] == "TaskStateEntered"]["state"]))
            assert helpers.alerts.receive(local, at_least=1)["subject"][0] == \
                "[OK] Model deployed"
        assert "Create endpoint" in paths[0] and "Update endpoint" not in paths[0]
        assert "Update endpoint" in paths[1] and "Create endpoint" not in paths[1]
        accuracy, confusion = helpers.hosting.evaluate(local, helpers.data.split()[1])
        assert accuracy > 0.8 and int(confusion.values.sum()) == 45
        # The endpoint exists. A lookup that fails for any other reason than "not found" must
        # alert, not create, and leave the endpoint alone.
        for code in ("AccessDeniedException", "ThrottlingException"):
            with helpers.faults.injected(local, "DescribeEndpoint", code, times=1,
                                         name_contains=workflows.ENDPOINT_NAME) as fault:
                execution = workflows.start(local, arn)
                assert helpers.executions.wait(local, execution)["status"] == "FAILED"
            assert fault["used"] == 1
            history = helpers.executions.history(local, execution)
            entered = list(history[history["event"].str.endswith("StateEntered")]["state"])
            assert "Create endpoint" not in entered and "Update endpoint" not in entered
            assert entered[-2:] == ["Notify Failure", "Fail"]
            message = helpers.alerts.receive(local, at_least=1)["message"][0]
            assert "Error: SageMaker.SageMakerException" in message, message
            assert "injected by the local AWS" in message or "Rate exceeded" in message
        endpoint = local.client("sagemaker").describe_endpoint(
            EndpointName=workflows.ENDPOINT_NAME)
        assert endpoint["EndpointStatus"] == "InService"
    finally:
        helpers.hosting.delete_endpoint(local)


def test_section_5_reports_a_failed_training_on_the_failure_path(local):
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.train_and_host(names, local))
    prefix = helpers.data.SPLIT_PREFIXES["training"]
    with helpers.data.temporarily_added(local, "iris_malformed.csv", prefix=prefix):
        execution = workflows.start(local, arn)
        assert helpers.executions.wait(local, execution)["status"] == "FAILED"
    message = helpers.alerts.receive(local, at_least=1)["message"][0]
    assert message.startswith("Deployment failed in execution")
    assert "States.TaskFailed" in message


def test_cleanup_removes_everything_and_says_so(local):
    helpers.data.upload_split(local)
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.train_and_host(names, local))
    assert helpers.executions.wait(local, workflows.start(local, arn))["status"] == "SUCCEEDED"
    items = helpers.cleanup.plan(local)
    kinds = {kind for kind, _ in items}
    assert kinds >= {"endpoint", "endpoint configuration", "model", "state machine", "S3 object",
                     "S3 bucket", "SNS subscription", "SNS topic", "SQS queue", "IAM role",
                     "log group", "log stream", "ECR repository"}
    shown = helpers.cleanup.overview(items, "What exists")  # notebook 99: a count per kind
    assert dict(zip(shown.counts["kind"], shown.counts["count"])) == {
        kind: sum(k == kind for k, _ in items) for kind in kinds}
    assert "<details>" in shown._repr_html_() and f"What exists: all {len(items)}" in repr(shown)
    outcome = helpers.cleanup.delete(local, items)
    assert set(outcome["outcome"]) == {"deleted"}
    assert set(helpers.cleanup.overview(outcome, "Deleted").counts["outcome"]) == {"deleted"}
    assert helpers.cleanup.plan(local) == []
    assert helpers.cleanup.overview([], "Left") == "Left: nothing."
    # And the services agree: nothing of the series' is listed any more.
    assert local.client("sagemaker").list_endpoints()["Endpoints"] == []
    assert not any(m["name"].startswith("sagemaker-byo-") for m in
                   local.client("stepfunctions").list_state_machines()["stateMachines"])
    assert local.bucket not in [b["Name"] for b in local.client("s3").list_buckets()["Buckets"]]
    assert helpers.config.IMAGE_REPOSITORY not in [
        r["repositoryName"] for r in local.client("ecr").describe_repositories()["repositories"]]
    # Idempotent: deleting again fails nowhere (some AWS deletes answer "gone", some succeed).
    again = helpers.cleanup.delete(local, items)
    assert again["outcome"].isin(["already gone", "deleted"]).all(), again


def test_section_5_alerts_with_the_endpoint_failure_reason_and_routes_on_the_cause(local):
    """The two decisions of §5 that a healthy run never takes, state by state (TestState)."""
    names = workflows.Names.from_aws(local)
    definition = json.dumps(workflows.definition(workflows.train_and_host(names, local)))
    sfn = local.client("stepfunctions")

    def test_state(state, state_input):
        return sfn.test_state(definition=definition, stateName=state,
                              input=json.dumps(state_input))

    reason = "The primary container for production variant AllTraffic did not pass the ping"
    failed = test_state("Endpoint failed", {"endpoint": {"EndpointStatus": "Failed",
                                                         "FailureReason": reason}})
    assert json.loads(failed["output"])["error"] == {"Error": "EndpointFailed", "Cause": reason}
    assert failed["nextState"] == "Notify Failure"
    arn = f"arn:aws:sagemaker:{local.region}:{local.account_id}:endpoint/{workflows.ENDPOINT_NAME}"
    for cause, expected in (
            (f'Could not find endpoint "{arn}". (Service: SageMaker, Status Code: 400, '
             + "Request ID: 1)", "Create endpoint"),
            ("User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: "
             + "sagemaker:DescribeEndpoint (Service: SageMaker, Status Code: 400, Request ID: 2)",
             "Notify Failure"),
            ("Rate exceeded (Service: SageMaker, Status Code: 400, Request ID: 3)",
             "Notify Failure")):
        routed = test_state("Endpoint not found?", {"error": {
            "Error": workflows.ENDPOINT_LOOKUP_ERRORS[0], "Cause": cause}})
        assert routed["nextState"] == expected, cause


def test_an_execution_path_folds_the_waiting_loop_into_one_line():
    loop = ["Wait for the endpoint", "Check the endpoint", "Is it in service?"]
    entered = ["Find the endpoint", "Endpoint not found?", "Create endpoint"] + loop * 3 + [
        "Notify Success"]
    assert helpers.executions._fold_loops(entered) == [
        "Find the endpoint", "Endpoint not found?", "Create endpoint",
        "3 × [Wait for the endpoint → Check the endpoint → Is it in service?]", "Notify Success"]
    assert helpers.executions._fold_loops(["a", "b", "a", "b", "c"]) == ["2 × [a → b]", "c"]
