"""Notebooks 10 and 11 on the AWS backend (moto in-process): their workflows are created as
defined, the cost guard counts a tuning job's training jobs before a run, the exercise checks
answer through the API, and the clean-up plan lists what they leave."""
import json

import helpers
from helpers import config, scale_workflows, workflows


def test_tuning_and_many_models_are_created_and_the_guard_counts_the_tuning_jobs(aws_backend,
                                                                                   capsys):
    helpers.prerequisites.ensure_all(aws_backend)
    names = workflows.Names.from_aws(aws_backend)
    sfn = aws_backend.client("stepfunctions")
    for name in ("tuning", "many-models"):
        flow = workflows.build(name, names, aws_backend)
        arn = workflows.create_or_update(aws_backend, flow)
        stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
        assert stored == workflows.definition(flow)
    workflows.start(aws_backend, workflows.state_machine_arn(
        aws_backend, workflows.build("tuning", names, aws_backend)))
    printed = capsys.readouterr().out
    assert (f"6 training job(s) of a tuning job on {config.AWS_TRAINING_INSTANCE_TYPE}"
            in printed)


def test_the_items_go_to_the_series_prefix_and_the_clean_up_finds_them(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    uri = scale_workflows.upload_hyperparameter_sets(aws_backend)
    assert uri == f"s3://{aws_backend.bucket}/{scale_workflows.HYPERPARAMETER_SETS_KEY}"
    names = workflows.Names.from_aws(aws_backend)
    workflows.create_or_update(aws_backend, workflows.build("many-models", names, aws_backend))
    items = helpers.cleanup.plan(aws_backend)
    assert ("S3 object", uri) in items
    assert ("state machine", workflows.state_machine_arn(
        aws_backend, workflows.build("many-models", names, aws_backend))) in items
    helpers.cleanup.delete(aws_backend, items)
    assert helpers.cleanup.plan(aws_backend) == []


def test_the_exercise_checks_say_what_is_missing_on_aws(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    for exercise_id in ("10.1", "11.2"):
        feedback = helpers.exercises.check(aws_backend, exercise_id, 8)
        assert not feedback.passed
        assert any("no successful run of sagemaker-byo-" in p for p in feedback.problems)
