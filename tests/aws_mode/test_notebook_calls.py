"""The raw AWS calls and SDK constructions that notebooks 00, 03 and 04 make in their own cells,
run on the AWS backend (moto in-process): the notebooks' code itself, taken from the committed
notebooks, twice where a notebook must be safe to run again."""
import json

import nbformat

import helpers
from helpers import config, workflows

NOTEBOOKS = config.REPO_ROOT / "notebooks"


def code_cells(notebook: str, first: str, last: str) -> list[str]:
    """The sources of the learner's code cells from the one containing `first` to the one
    containing `last` (solutions left out)."""
    cells = [cell.source for cell in nbformat.read(NOTEBOOKS / notebook, as_version=4).cells
             if cell.cell_type == "code" and "solution" not in cell.metadata.get("tags", [])]
    start = next(i for i, source in enumerate(cells) if first in source)
    end = next(i for i, source in enumerate(cells) if last in source and i >= start)
    return cells[start:end + 1]


def run_cells(sources: list[str], namespace: dict) -> dict:
    for source in sources:
        exec(compile(source, "<notebook cell>", "exec"), namespace)  # noqa: S102 - our notebooks
    return namespace


def test_00_creates_the_sagemaker_role_with_its_two_calls_idempotently(aws_backend):
    helpers.prerequisites.ensure_bucket(aws_backend)
    cells = code_cells("00_setup.ipynb", "names = helpers.names", "iam.create_role(")
    for _ in range(2):  # the second run finds the role and only puts the policy again
        run_cells(cells, {"helpers": helpers, "aws": aws_backend})
    iam = aws_backend.client("iam")
    role = iam.get_role(RoleName=config.SAGEMAKER_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"] == helpers.prerequisites.load_policy(
        "sagemaker-trust-policy.json")
    names = workflows.Names.from_aws(aws_backend)
    assert iam.get_role_policy(RoleName=config.SAGEMAKER_ROLE,
                               PolicyName="SageMakerExecutionPolicy")["PolicyDocument"] == \
        helpers.permissions.scoped_policy(config.SAGEMAKER_ROLE, names)
    assert helpers.prerequisites.ensure_role(aws_backend, config.SAGEMAKER_ROLE) == "existed"


def test_03_constructs_creates_and_updates_the_reference_workflow(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    cells = code_cells("03_training_workflow.ipynb", "from helpers.sdk import",
                       "state_machine_arn = workflow.create()")
    for _ in range(2):  # create() on an existing name keeps it; update() makes it this one
        namespace = run_cells(cells, {"helpers": helpers, "aws": aws_backend})
    names = workflows.Names.from_aws(aws_backend)
    reference = workflows.reference("training", names, aws_backend)
    deployed = aws_backend.client("stepfunctions").describe_state_machine(
        stateMachineArn=namespace["state_machine_arn"])
    assert json.loads(deployed["definition"]) == workflows.definition(reference)
    assert "ml.m5.large" in deployed["definition"]  # on AWS, the cheapest type that works


def test_04_subscribes_the_inbox_with_its_queue_policy(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    cells = code_cells("04_retry_catch_notify.ipynb", "from helpers.sdk import steps",
                       "helpers.alerts.subscribe_queue(aws)")
    for _ in range(2):
        namespace = run_cells(cells, {"helpers": helpers, "aws": aws_backend})
    sqs, sns = aws_backend.client("sqs"), aws_backend.client("sns")
    policy = json.loads(sqs.get_queue_attributes(
        QueueUrl=namespace["queue_url"], AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy == namespace["queue_policy"]
    names = workflows.Names.from_aws(aws_backend)
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=names.topic_arn)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [
        ("sqs", namespace["queue_arn"])]
    assert "SQS queue" in {kind for kind, _ in helpers.cleanup.plan(aws_backend)}  # tagged


def test_04_constructions_equal_the_references_on_aws(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    notebook = "04_retry_catch_notify.ipynb"
    cells = [code_cells(notebook, "from helpers.sdk import steps", "names.topic_arn")[0]]
    cells += code_cells(notebook, "train = helpers.workflows.training_step",
                        'workflow("training-retry-notify", steps.Chain([train])')
    cells += code_cells(notebook, "detailed_train = ", 'workflow("training-retry-notify-detailed"')
    namespace = run_cells(cells, {"helpers": helpers, "aws": aws_backend})
    names = workflows.Names.from_aws(aws_backend)
    for variable, name in (("workflow", "training-retry-notify"),
                           ("detailed", "training-retry-notify-detailed")):
        assert workflows.definition(namespace[variable]) == workflows.definition(
            workflows.reference(name, names, aws_backend)), name
