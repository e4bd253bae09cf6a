"""Every AWS-backend code path: connecting, naming, the preflight checks, role creation with the
scoped policies, tags, the cost guard, the image without Docker, clean-up, exercise checks."""
import ast
import json

import pytest
from botocore.stub import Stubber

import helpers
from helpers import config, permissions, workflows


def test_connect_derives_the_names_from_sts_and_the_region(aws_backend):
    assert aws_backend.endpoint_url is None and not aws_backend.settings.is_local
    account = aws_backend.account_id
    assert aws_backend.bucket == f"sfn-sagemaker-tutorial-{account}-eu-west-1"
    names = workflows.Names.from_aws(aws_backend)
    assert names.image_uri == (f"{account}.dkr.ecr.eu-west-1.amazonaws.com/"
                               f"{config.IMAGE_REPOSITORY}")
    assert (names.training_instance_type, names.endpoint_instance_type) == (
        config.AWS_TRAINING_INSTANCE_TYPE, config.AWS_ENDPOINT_INSTANCE_TYPE)


def test_prerequisites_are_created_scoped_tagged_and_idempotent(aws_backend):
    first = helpers.prerequisites.ensure_all(aws_backend)
    assert set(first["this run"]) == {"created"}
    assert set(helpers.prerequisites.ensure_all(aws_backend)["this run"]) == {"existed"}
    s3, iam = aws_backend.client("s3"), aws_backend.client("iam")
    location = s3.get_bucket_location(Bucket=aws_backend.bucket)["LocationConstraint"]
    assert location == "eu-west-1"  # outside us-east-1 the bucket names its region
    names = workflows.Names.from_aws(aws_backend)
    for role, (_, _, policy_name) in helpers.prerequisites.ROLES.items():
        policy = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        assert policy == permissions.scoped_policy(role, names)
        assert {"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE} in \
            iam.list_role_tags(RoleName=role)["Tags"]


def test_preflight_passes_with_permissions_and_names_what_is_missing(aws_backend):
    caller = aws_backend.client("sts").get_caller_identity()["Arn"]
    iam = aws_backend.client("iam")
    with Stubber(iam) as stub:
        for step, actions in helpers.preflight.LEARNER_ACTIONS.items():
            decisions = ["allowed"] * len(actions)
            if step.startswith("07"):
                decisions[0] = "implicitDeny"  # sagemaker:InvokeEndpoint
            # The stand-in answers only the request the check must make: the caller's own
            # identity (SimulatePrincipalPolicy's PolicySourceArn) and exactly this step's actions.
            stub.add_response("simulate_principal_policy", {"EvaluationResults": [
                {"EvalActionName": action, "EvalDecision": decision}
                for action, decision in zip(actions, decisions)], "IsTruncated": False},
                expected_params={"PolicySourceArn": caller, "ActionNames": actions})
        table = helpers.preflight.check(aws_backend)
        stub.assert_no_pending_responses()  # one simulation per step, none skipped
    rows = dict(zip(table["check"], zip(table["status"], table["detail"])))
    assert rows["credentials"][0] == "ok" and rows["region"][0] == "ok"
    assert rows["permissions 07 · endpoint"] == (
        "missing", rows["permissions 07 · endpoint"][1])
    assert "not allowed: sagemaker:InvokeEndpoint." in rows["permissions 07 · endpoint"][1]
    assert not helpers.preflight.ready(table)


def test_preflight_without_the_simulator_says_it_could_not_check(aws_backend):
    with Stubber(aws_backend.client("iam")) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", http_status_code=403)
        table = helpers.preflight.check(aws_backend)
    assert list(table["status"]) == ["ok", "ok", "not checked"]
    assert "answered AccessDenied" in table["detail"].iloc[-1]
    assert "iam:SimulatePrincipalPolicy" in table["detail"].iloc[-1]
    assert helpers.preflight.ready(table)


def test_preflight_without_credentials_says_how_to_get_them(aws_backend, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    table = helpers.preflight.check(helpers.connect())
    assert table["status"].iloc[0] == "missing" and "aws configure" in table["detail"].iloc[0]


def test_a_region_without_sagemaker_is_named(aws_backend, monkeypatch):
    monkeypatch.setenv("TUTORIAL_REGION", "xx-nowhere-1")
    aws = helpers.connect()
    with Stubber(aws.client("iam")) as stub:
        stub.add_client_error("simulate_principal_policy", "AccessDenied", http_status_code=403)
        table = helpers.preflight.check(aws)
    region = table[table["check"] == "region"].iloc[0]
    assert region["status"] == "missing" and "TUTORIAL_REGION" in region["detail"]


def test_the_assumed_role_behind_a_session_is_simulated():
    assert helpers.preflight.principal_arn(
        "arn:aws:sts::000000000000:assumed-role/Admin/alice") == \
        "arn:aws:iam::000000000000:role/Admin"


def test_starting_a_workflow_on_aws_prints_the_cost_guard_first(aws_backend, capsys):
    helpers.prerequisites.ensure_all(aws_backend)
    names = workflows.Names.from_aws(aws_backend)
    arn = workflows.create_or_update(aws_backend, workflows.train_and_host(names, aws_backend))
    workflows.start(aws_backend, arn)
    printed = capsys.readouterr().out
    assert "This run creates, on AWS:" in printed
    assert f"1 endpoint instance(s) on {config.AWS_ENDPOINT_INSTANCE_TYPE} ($0.056/h)" in printed
    assert "python -m helpers cleanup" in printed
    sfn = aws_backend.client("stepfunctions")
    tags = sfn.list_tags_for_resource(resourceArn=arn)["tags"]
    assert {"key": config.SERIES_TAG_KEY, "value": config.SERIES_TAG_VALUE} in tags


@pytest.mark.parametrize("docker", ["absent", "not-running"])
def test_publishing_the_image_without_docker_says_what_to_do(aws_backend, tmp_path, monkeypatch,
                                                              docker):
    # PATH is this test's own: no docker on it, or a stand-in whose `docker info` fails as it does
    # when the daemon is down. Either way nothing may be built, logged in to or pushed.
    calls = tmp_path / "docker-calls"
    if docker == "not-running":
        stand_in = tmp_path / "docker"
        stand_in.write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n'
                            'echo "Cannot connect to the Docker daemon" >&2\nexit 1\n')
        stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(helpers.container.DockerUnavailable, match="needs a running Docker"):
        helpers.container.publish_image(aws_backend)
    said = calls.read_text().splitlines() if calls.exists() else []
    assert said == ([] if docker == "absent" else ["info"])
    ecr = aws_backend.client("ecr")  # the repository is there for the push, tagged
    repository = ecr.describe_repositories(repositoryNames=[config.IMAGE_REPOSITORY])[
        "repositories"][0]
    assert {"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE} in \
        ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]


def test_clean_up_deletes_everything_the_series_made_and_nothing_else(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    helpers.alerts.subscribe_queue(aws_backend)
    helpers.data.upload(aws_backend)
    names = workflows.Names.from_aws(aws_backend)
    workflows.create_or_update(aws_backend, workflows.training(names, aws_backend))
    other = aws_backend.client("stepfunctions").create_state_machine(
        name="someone-elses", roleArn=names.workflow_role_arn,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    items = helpers.cleanup.plan(aws_backend)
    kinds = {kind for kind, _ in items}
    assert kinds >= {"state machine", "S3 object", "S3 bucket", "SNS topic", "SQS queue",
                     "IAM role", "SNS subscription"}
    helpers.cleanup.delete(aws_backend, items)
    assert helpers.cleanup.plan(aws_backend) == []
    remaining = aws_backend.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["stateMachineArn"] for m in remaining] == [other["stateMachineArn"]]


def test_a_bucket_the_series_did_not_create_is_not_deleted(aws_backend):
    aws_backend.client("s3").create_bucket(
        Bucket=aws_backend.bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert helpers.prerequisites.ensure_bucket(aws_backend) == "existed"
    assert ("S3 bucket", aws_backend.bucket) not in helpers.cleanup.plan(aws_backend)


def test_exercise_checks_answer_on_aws(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    assert helpers.exercises.check(aws_backend, "00.2", "sagemaker.amazonaws.com").passed
    feedback = helpers.exercises.check(aws_backend, "00.1", {
        "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"})
    assert not feedback.passed and any("Resource is '*'" in p for p in feedback.problems)
    assert helpers.exercises.check(aws_backend, "99.2", helpers.cleanup.plan(aws_backend)).passed


def test_publishing_the_image_with_docker_builds_logs_in_and_pushes(aws_backend, tmp_path,
                                                                   monkeypatch):
    """A stand-in `docker` on the PATH records what the series asks of it."""
    calls = tmp_path / "calls"
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncat > /dev/null\n')
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{docker.parent}:/usr/bin:/bin")
    uri = helpers.container.publish_image(aws_backend)
    assert uri == workflows.Names.from_aws(aws_backend).image_uri
    info, build, login, push = calls.read_text().splitlines()
    assert info == "info"
    assert build.startswith(f"build --platform linux/amd64 -t {uri} ")
    assert build.endswith("/container")
    assert login.startswith("login --username AWS --password-stdin https://")
    assert push == f"push {uri}"


def test_notebook_12s_jsonata_workflows_on_aws(aws_backend, capsys, tmp_path, monkeypatch):
    """Notebook 12 on AWS: the JSONata state machines are created tagged through the SDK's
    Workflow, starting one prints the cost guard read from its Arguments, reset and clean-up
    find them."""
    from helpers import jsonata_workflows
    docker = tmp_path / "bin" / "docker"  # reset rebuilds the image: a stand-in docker
    docker.parent.mkdir()
    docker.write_text("#!/bin/sh\ncat > /dev/null\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{docker.parent}:/usr/bin:/bin")
    helpers.prerequisites.ensure_all(aws_backend)
    names = workflows.Names.from_aws(aws_backend)
    sfn = aws_backend.client("stepfunctions")
    arns = [workflows.create_or_update(aws_backend, builder(names, aws_backend))
            for builder in jsonata_workflows.BUILDERS.values()]
    for arn, builder in zip(arns, jsonata_workflows.BUILDERS.values()):
        created = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        assert created == workflows.definition(builder(names, aws_backend))
        assert created["QueryLanguage"] == "JSONata"
        assert {"key": config.SERIES_TAG_KEY, "value": config.SERIES_TAG_VALUE} in \
            sfn.list_tags_for_resource(resourceArn=arn)["tags"]
    workflows.start(aws_backend, arns[1])
    printed = capsys.readouterr().out
    assert "This run creates, on AWS:" in printed
    assert f"1 training job(s) on {config.AWS_TRAINING_INSTANCE_TYPE}" in printed
    assert {("state machine", arn) for arn in arns} <= set(helpers.cleanup.plan(aws_backend))
    done = helpers.reset(aws_backend, "12")
    assert {"sagemaker-byo-training-retry-notify-jsonata",
            "sagemaker-byo-training-redrivable-jsonata"} <= set(done["name"])
    assert sfn.list_state_machines()["stateMachines"] == []


def _series_resources(aws):
    helpers.prerequisites.ensure_all(aws)
    names = workflows.Names.from_aws(aws)
    workflows.create_or_update(aws, workflows.training(names, aws))
    return helpers.cleanup.plan(aws)


@pytest.mark.parametrize("answer", ["", "yes please"])
def test_the_cleanup_command_deletes_nothing_on_aws_unless_the_answer_is_y(
        aws_backend, monkeypatch, capsys, answer):
    """The last check before real resources are deleted: `python -m helpers cleanup` lists them
    and asks; anything but "y" deletes nothing."""
    from series_tools import cli
    before = _series_resources(aws_backend)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    assert cli.main(["cleanup"]) == 1
    assert asked == [f"Delete these {len(before)} resources? [y/N] "]
    assert "Nothing deleted." in capsys.readouterr().out
    assert helpers.cleanup.plan(aws_backend) == before


@pytest.mark.parametrize("arguments, answer", [(["cleanup"], " Y "), (["cleanup", "--yes"], None)])
def test_the_cleanup_command_deletes_on_y_or_yes_and_verifies(aws_backend, monkeypatch, capsys,
                                                              arguments, answer):
    from series_tools import cli
    assert _series_resources(aws_backend)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    assert cli.main(arguments) == 0
    assert len(asked) == (0 if answer is None else 1)
    assert "Verified: nothing is left." in capsys.readouterr().out
    assert helpers.cleanup.plan(aws_backend) == []


def test_notebook_99_deletes_nothing_on_aws_until_confirm_is_set(aws_backend):
    """Notebook 99's own cell: CONFIRM is False on AWS until the learner sets it."""
    import nbformat
    notebook = nbformat.read(config.REPO_ROOT / "notebooks" / "99_clean_up.ipynb", as_version=4)
    cell = next(c.source for c in notebook.cells if c.source.startswith("CONFIRM ="))
    items = _series_resources(aws_backend)
    namespace = {"helpers": helpers, "aws": aws_backend, "items": items}
    statements = ast.parse(cell).body  # run as Jupyter does: the last expression is the result
    exec(compile(ast.Module(statements[:-1], []), "99", "exec"), namespace)
    result = eval(compile(ast.Expression(statements[-1].value), "99", "eval"), namespace)
    assert result.startswith("Nothing deleted: set CONFIRM = True")
    assert helpers.cleanup.plan(aws_backend) == items
