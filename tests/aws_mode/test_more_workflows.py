"""Notebooks 08-09's workflows on the AWS backend: created scoped to the series, the cost guard
counting their batch transform and processing jobs, their exercise checks answering on AWS."""
import helpers
from helpers import config, exercises, workflows


def test_batch_transform_and_evaluation_workflows_are_created_and_priced(aws_backend, capsys):
    helpers.prerequisites.ensure_all(aws_backend)
    names = workflows.Names.from_aws(aws_backend)
    instance = config.AWS_TRAINING_INSTANCE_TYPE  # transform and processing run on it too
    for name, expected in (("batch-transform", f"1 batch transform job(s) on {instance}"),
                           ("evaluate-before-deploy", f"1 processing job(s) on {instance}")):
        workflow = workflows.reference(name, names, aws_backend)
        arn = workflows.create_or_update(aws_backend, workflow)
        assert workflows.create_or_update(aws_backend, workflow) == arn  # idempotent
        workflows.start(aws_backend, arn, execution_input={"Threshold": 0.9})
        printed = capsys.readouterr().out
        assert "This run creates, on AWS:" in printed and expected in printed, printed


def test_the_new_exercises_answer_on_aws_without_a_run(aws_backend):
    helpers.prerequisites.ensure_all(aws_backend)
    for exercise_id, answer in (("08.2", 3), ("09.1", 0.9)):
        feedback = exercises.check(aws_backend, exercise_id, answer)
        assert not feedback.passed
        assert "There is no successful run" in " ".join(feedback.problems)
