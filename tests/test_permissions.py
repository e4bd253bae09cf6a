"""Least privilege, proved on the workflows' real calls: every workflow of the series runs on the
local backend (each path: success, failure alert, endpoint create and update); the IAM requests
its tasks make, derived from the execution histories, must all be allowed by the scoped
policies, and the same requests aimed at anything that is not the series' must not be."""
import json
import re

import pytest
from parliament import analyze_policy_string

import helpers
from helpers import config, permissions, workflows
from helpers.permissions import Request
from tests.conftest import run_workflow, series_aws

# The `histories` fixture runs every workflow of the series (each path) once; its set-up counts
# against the first test that uses it. On the 2-core machine loaded by other sessions it took
# 300 s (load average 22-24), once more than pytest's global 300 s (load average 14): these tests
# get a budget of three times that (it now runs tuning and a Distributed Map too).
# One worker runs the module (`make test` uses --dist loadgroup), so its fixtures run once.
pytestmark = [pytest.mark.timeout(900), pytest.mark.xdist_group("permissions"), pytest.mark.long]
OTHER_ACCOUNT = "0" * 11 + "1"  # another account (written so: the repository scan looks for ids)


@pytest.fixture(scope="module")
def series(server):
    aws = series_aws(server)
    helpers.data.upload_split(aws)
    helpers.data.upload(aws, ["wine.csv"], prefix=helpers.data.WINE_PREFIX)
    return aws


@pytest.fixture(scope="module")
def histories(series):
    """workflow name -> event histories of its runs, covering every path that calls AWS."""
    aws, names = series, workflows.Names.from_aws(series)
    runs = {}

    def run(name, execution_input=None, bad_data=False, times=1):
        for _ in range(times):
            execution = run_workflow(aws, workflows.build(name, names, aws), execution_input,
                                     bad_data)
            runs.setdefault(name, []).append(helpers.executions.events(aws, execution))

    run("training")
    run("training-retry-notify", bad_data=True)
    run("training-retry-notify-detailed", bad_data=True)
    run("training-parameters", helpers.inputs.training_input(aws, "iris", {"max_leaf_nodes": "3"}))
    run("training-parameters", helpers.inputs.training_input(  # an empty channel: the alert path
        aws, "empty", {}, data_prefix="sagemaker_bring_your_own/input/data/nothing/"))
    run("train-multiple", {"HyperparameterSets": [{"max_leaf_nodes": "2"}]})
    run("training-retry-notify-jsonata", bad_data=True)  # notebook 12: the alert path
    run("training-redrivable-jsonata")
    try:
        run("train-and-host", times=2)  # creates the endpoint, then updates it
    finally:
        helpers.hosting.delete_endpoint(aws)
    run("batch-transform")
    with helpers.faults.injected(aws, "CreateTransformJob", "ResourceLimitExceeded", times=1):
        run("batch-transform")  # the transform is refused: the alert path
    try:
        run("evaluate-before-deploy", {"Threshold": 0.5})  # deploys
    finally:
        helpers.hosting.delete_endpoint(aws)
    run("evaluate-before-deploy", {"Threshold": 1.01})  # below the threshold: the alert
    # The calls matter here, not how many: one tuning job of one training job, two rows.
    tuning = helpers.scale_workflows.tuning(names, aws, max_jobs=1, max_parallel_jobs=1)
    runs["tuning"] = [helpers.executions.events(aws, run_workflow(aws, tuning))]
    helpers.scale_workflows.upload_hyperparameter_sets(
        aws, helpers.scale_workflows.HYPERPARAMETER_SETS.iloc[-2:])
    many = run_workflow(aws, workflows.build("many-models", names, aws))
    # A Distributed Map's tasks run in its child executions, each with a history of its own.
    runs["many-models"] = [helpers.executions.events(aws, many)] + child_histories(aws, many)
    return runs


def child_histories(aws, execution_arn: str) -> list[list[dict]]:
    sfn = aws.client("stepfunctions")
    return [helpers.executions.events(aws, child["executionArn"])
            for run in sfn.list_map_runs(executionArn=execution_arn)["mapRuns"]
            for child in sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]]


# The workflows of the document's five sections (notebooks 03-07).
DOCUMENT_WORKFLOWS = {"training", "training-retry-notify", "training-retry-notify-detailed",
                      "training-parameters", "train-multiple", "train-and-host"}


def requests_of(histories, names, derive) -> list[Request]:
    return [request for runs in histories.values() for history in runs
            for request in derive(history, names)]


@pytest.mark.timeout(900)  # the first test pays for the module's runs (every workflow's)
def test_the_runs_cover_every_task_of_every_workflow(histories, series):
    names = workflows.Names.from_aws(series)
    for name in workflows.BUILDERS:
        definition = workflows.definition(workflows.build(name, names, series))
        tasks = {state["Resource"].removeprefix("arn:aws:states:::")
                 for state in helpers.graph.all_states(definition).values()
                 if state["Type"] == "Task"}
        scheduled = {f"{e['taskScheduledEventDetails']['resourceType']}:"
                     f"{e['taskScheduledEventDetails']['resource']}"
                     for history in histories[name] for e in history
                     if "taskScheduledEventDetails" in e}
        assert tasks <= scheduled, f"{name}: never ran {tasks - scheduled}"


def test_the_scoped_workflow_role_allows_every_call_the_workflows_make(histories, series):
    names = workflows.Names.from_aws(series)
    policy = permissions.scoped_policy(config.WORKFLOW_ROLE, names)
    needed = requests_of(histories, names, permissions.workflow_role_requests)
    assert {r.action for r in needed} >= {
        "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "iam:PassRole",
        "events:PutRule", "sagemaker:CreateModel", "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint", "sagemaker:DescribeEndpoint",
        "sns:Publish"}
    assert [str(r) for r in permissions.denied(policy, needed)] == []


def test_the_scoped_sagemaker_role_allows_what_the_jobs_and_endpoints_do(histories, series):
    names = workflows.Names.from_aws(series)
    policy = permissions.scoped_policy(config.SAGEMAKER_ROLE, names)
    needed = requests_of(histories, names, permissions.sagemaker_role_requests)
    assert {r.action for r in needed} >= {"s3:ListBucket", "s3:GetObject", "s3:PutObject",
                                          "ecr:BatchGetImage", "logs:PutLogEvents"}
    assert [str(r) for r in permissions.denied(policy, needed)] == []


def elsewhere(request: Request, names) -> list[Request]:
    """The same request aimed at what is not the series': another account, and where the
    resource is named, another bucket, role, topic, repository, log group or SageMaker name."""
    swaps = [(f":{names.account_id}:", f":{OTHER_ACCOUNT}:"),
             (f":::{names.bucket}", ":::someone-elses-bucket"),
             (f"role/{config.SAGEMAKER_ROLE}", "role/an-admin-role"),
             (f":{names.topic}", ":another-topic"),
             (f"repository/{config.IMAGE_REPOSITORY}", "repository/another-image"),
             ("log-group:/aws/sagemaker/", "log-group:/aws/lambda/"),
             ("model/byo-model-", "model/another-model-"),
             ("endpoint-config/byo-config-", "endpoint-config/another-config-"),
             (f"endpoint/{config.ENDPOINT_NAME}", "endpoint/another-endpoint"),
             ("transform-job/byo-", "transform-job/another-"),
             ("processing-job/byo-", "processing-job/another-"),
             ("rule/StepFunctions", "rule/Another"),
             (f"/{config.DATA_PREFIX}/", "/someone-elses-data/")]
    variants = [Request(request.action, request.resource.replace(old, new), request.context)
                for old, new in swaps if old in request.resource]
    context = dict(request.context)
    if "sagemaker:InstanceTypes" in context:
        context["sagemaker:InstanceTypes"] = ["ml.p4d.24xlarge"]
    if "iam:PassedToService" in context:
        context["iam:PassedToService"] = "ec2.amazonaws.com"
    if "s3:prefix" in context:
        context["s3:prefix"] = "someone-elses-data/"
    if "cloudwatch:namespace" in context:
        context["cloudwatch:namespace"] = "Billing"
    if context != request.context:
        variants.append(Request(request.action, request.resource, context))
    return variants


@pytest.mark.parametrize("role", [config.WORKFLOW_ROLE, config.SAGEMAKER_ROLE])
def test_nothing_outside_the_series_is_allowed(histories, series, role):
    names = workflows.Names.from_aws(series)
    policy = permissions.scoped_policy(role, names)
    derive = (permissions.workflow_role_requests if role == config.WORKFLOW_ROLE
              else permissions.sagemaker_role_requests)
    unscoped = []
    for request in set(requests_of(histories, names, derive)):
        variants = elsewhere(request, names)
        if not variants:
            unscoped.append(request.action)
        allowed = [str(v) for v in variants if permissions.allows(policy, v)]
        assert allowed == [], f"{request} is scoped, yet these are allowed too: {allowed}"
    # What AWS itself cannot scope to a resource, and nothing else:
    assert sorted(set(unscoped)) == (["ecr:GetAuthorizationToken"]
                                     if role == config.SAGEMAKER_ROLE else [])


def test_the_scoped_workflow_role_allows_what_a_distributed_map_itself_does(series):
    """Besides its children's tasks, a Distributed Map starts, describes and stops its child
    executions, reads its items and writes its results: allowed for the series' state machines
    and prefixes only."""
    names = workflows.Names.from_aws(series)
    many = workflows.build("many-models", names, series)
    needed = permissions.distributed_map_requests(workflows.definition(many),
                                                  workflows.state_machine_arn(series, many),
                                                  names)
    assert {r.action for r in needed} >= {"states:StartExecution", "states:DescribeExecution",
                                          "s3:GetObject", "s3:PutObject"}
    policy = permissions.scoped_policy(config.WORKFLOW_ROLE, names)
    assert [str(r) for r in permissions.denied(policy, needed)] == []
    for request in needed:
        variants = elsewhere(request, names) + [
            Request(request.action, request.resource.replace(
                f":{config.STATE_MACHINE_PREFIX}", ":someone-elses-machine"), request.context),
            Request(request.action, request.resource.replace("/many-models/", "/elsewhere/"),
                    request.context)]
        variants = [v for v in variants if v.resource != request.resource]
        assert variants, request
        assert [str(v) for v in variants if permissions.allows(policy, v)] == []


def test_the_documents_policy_misses_what_the_later_workflows_call(histories, series):
    """The document's Step Functions policy has no sagemaker:DescribeEndpoint, which §5's wait
    loop calls, and no sagemaker:AddTags, which tagging at creation needs (§3-§5 tag what they
    create): two reasons the scoped variant is the default. (The document's sections only: the
    later notebooks' job kinds are beyond what its policy was written for.)"""
    names = workflows.Names.from_aws(series)
    document = helpers.prerequisites.load_policy("stepfunctions-execution-policy.json")
    sections = {name: runs for name, runs in histories.items() if name in DOCUMENT_WORKFLOWS}
    missing = permissions.denied(document, requests_of(sections, names,
                                                       permissions.workflow_role_requests))
    assert {r.action for r in missing} == {"sagemaker:DescribeEndpoint", "sagemaker:AddTags"}


@pytest.mark.parametrize("role", [config.WORKFLOW_ROLE, config.SAGEMAKER_ROLE])
def test_parliament_finds_nothing_in_the_scoped_policies(role):
    names = workflows.Names("000000000000", "eu-west-1", "a-bucket", "alerts")
    policy = analyze_policy_string(json.dumps(permissions.scoped_policy(role, names)))
    assert [(f.issue, f.detail) for f in policy.findings] == []


def test_parliament_does_flag_the_documents_policies():
    """The linter is not blind: the document's Resource "*" statements are findings."""
    for file_name in ("stepfunctions-execution-policy.json", "sagemaker-execution-policy.json"):
        policy = analyze_policy_string(json.dumps(helpers.prerequisites.load_policy(file_name)))
        assert "RESOURCE_STAR" in {f.issue for f in policy.findings}


def test_the_evaluator_follows_iam(series):
    policy = {"Statement": [
        {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/data/*"},
        {"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"ec2:InstanceType": ["t3.micro"]}}},
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/data/secret*"}]}
    assert permissions.allows(policy, Request("S3:GETOBJECT", "arn:aws:s3:::b/data/x.csv"))
    assert not permissions.allows(policy, Request("s3:GetObject", "arn:aws:s3:::b/other/x"))
    assert not permissions.allows(policy, Request("s3:GetObject", "arn:aws:s3:::b/data/secret"))
    assert not permissions.allows(policy, Request("s3:PutObject", "arn:aws:s3:::b/data/x"))
    assert permissions.allows(policy, Request("ec2:RunInstances", "*",
                                              {"ec2:InstanceType": ["t3.micro"]}))
    assert not permissions.allows(policy, Request("ec2:RunInstances", "*",
                                                  {"ec2:InstanceType": ["t3.micro", "p4d"]}))


def test_roles_get_the_scoped_policy_unless_the_document_is_asked_for(series):
    iam = series.client("iam")
    names = workflows.Names.from_aws(series)

    def put_policy():
        return iam.get_role_policy(RoleName=config.WORKFLOW_ROLE,
                                   PolicyName="StepFunctionsExecutionWithSageMakerTask")[
            "PolicyDocument"]

    assert put_policy() == permissions.scoped_policy(config.WORKFLOW_ROLE, names)
    document_settings = helpers.aws.Aws(
        config.Settings(**{**series.settings.__dict__, "policies": "document"}),
        series.session, series.endpoint_url)
    try:
        helpers.prerequisites.ensure_role(document_settings, config.WORKFLOW_ROLE)
        assert put_policy() == helpers.prerequisites.load_policy(
            "stepfunctions-execution-policy.json")
    finally:
        helpers.prerequisites.ensure_role(series, config.WORKFLOW_ROLE)


# ---- the map of needed requests, against AWS's own definitions ---------------------------------

def aws_definition(action: str) -> tuple[dict, dict] | None:
    """(service, privilege) of an action in AWS's Service Authorization Reference, as parliament
    ships it (parliament/iam_definition.json): an outside source, not this project's map."""
    from parliament import iam_definition
    prefix, name = action.split(":", 1)
    for service in iam_definition:
        if service["prefix"] == prefix:
            for privilege in service["privileges"]:
                if privilege["privilege"] == name:
                    return service, privilege
    return None


def arn_pattern(template: str) -> re.Pattern:
    """AWS's ARN template (arn:${Partition}:sagemaker:${Region}:${Account}:model/${ModelName})
    as a regular expression; a variable is any text, but partition, region and account stay
    within their own field."""
    pieces = re.split(r"(\$\{\w+\})", template)
    return re.compile("".join(
        ("[^:]*" if piece in ("${Partition}", "${Region}", "${Account}") else ".+")
        if re.fullmatch(r"\$\{\w+\}", piece) else re.escape(piece) for piece in pieces))


def disagreements_with_aws(request: Request) -> list[str]:
    found = aws_definition(request.action)
    if found is None:
        return [f"{request.action} is not an action AWS defines"]
    service, privilege = found
    types = [entry["resource_type"].rstrip("*") for entry in privilege["resource_types"]]
    problems = []
    named_types = [t for t in types if t]
    if not named_types:
        if request.resource != "*":
            problems.append(f"{request.action} takes no resource, yet {request.resource} is named")
    else:
        arns = {r["resource"]: r["arn"] for r in service["resources"]}
        if not any(arn_pattern(arns[t]).fullmatch(request.resource) for t in named_types):
            problems.append(f"{request.resource} is none of {request.action}'s resource types "
                            f"({', '.join(arns[t] for t in named_types)})")
    keys = {key for entry in privilege["resource_types"] for key in entry["condition_keys"]}
    for key in request.context:
        if key not in keys and not key.startswith("aws:"):
            problems.append(f"{request.action} has no condition key {key} (it has: "
                            f"{', '.join(sorted(keys)) or 'none'})")
    return problems


@pytest.mark.parametrize("role", [config.WORKFLOW_ROLE, config.SAGEMAKER_ROLE])
def test_the_needed_requests_agree_with_aws_definitions(histories, series, role):
    """Each request the map derives names an action AWS defines, a resource of a type that action
    takes (or "*" where it takes none), and only condition keys that action supports."""
    names = workflows.Names.from_aws(series)
    derive = (permissions.workflow_role_requests if role == config.WORKFLOW_ROLE
              else permissions.sagemaker_role_requests)
    needed = set(requests_of(histories, names, derive))
    assert [problem for request in sorted(needed, key=str)
            for problem in disagreements_with_aws(request)] == []


def test_the_cross_check_is_not_blind():
    assert disagreements_with_aws(Request("sagemaker:CreateTrainingJobs", "*")) == [
        "sagemaker:CreateTrainingJobs is not an action AWS defines"]
    assert "is none of sagemaker:CreateModel's resource types" in disagreements_with_aws(
        Request("sagemaker:CreateModel", "arn:aws:sagemaker:eu-west-1:000000000000:endpoint/x"))[0]
    assert "takes no resource" in disagreements_with_aws(
        Request("ecr:GetAuthorizationToken", "arn:aws:ecr:eu-west-1:000000000000:repository/x"))[0]
    assert "has no condition key sagemaker:InstanceTypes" in disagreements_with_aws(
        Request("sns:Publish", "arn:aws:sns:eu-west-1:000000000000:t",
                {"sagemaker:InstanceTypes": ["ml.m5.large"]}))[0]
    assert disagreements_with_aws(Request(
        "iam:PassRole", "arn:aws:iam::000000000000:role/r",
        {"iam:PassedToService": "sagemaker.amazonaws.com"})) == []
