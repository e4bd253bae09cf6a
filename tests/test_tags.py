"""Everything the series creates carries its tag, so that a user (and the clean-up) can find it:
the prerequisites, the inbox queue, the image repository, the state machines, and the SageMaker
resources its own workflows (§3-§5) create."""
import helpers
from helpers import config, workflows

TAG = {"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE}


def test_prerequisites_queue_and_repository_are_tagged(local):
    names = workflows.Names.from_aws(local)
    iam = local.client("iam")
    for role in helpers.prerequisites.ROLES:
        assert TAG in iam.list_role_tags(RoleName=role)["Tags"]
    assert TAG in local.client("sns").list_tags_for_resource(ResourceArn=names.topic_arn)["Tags"]
    assert TAG in local.client("s3").get_bucket_tagging(Bucket=local.bucket)["TagSet"]
    queue = helpers.alerts.subscribe_queue(local)
    assert local.client("sqs").list_queue_tags(QueueUrl=queue)["Tags"] == {
        config.SERIES_TAG_KEY: config.SERIES_TAG_VALUE}
    ecr = local.client("ecr")
    repository = ecr.describe_repositories(repositoryNames=[config.IMAGE_REPOSITORY])[
        "repositories"][0]["repositoryArn"]
    assert TAG in ecr.list_tags_for_resource(resourceArn=repository)["tags"]


def test_state_machines_are_tagged_when_created_and_when_updated(local):
    names = workflows.Names.from_aws(local)
    sfn = local.client("stepfunctions")
    arn = workflows.create_or_update(local, workflows.training(names, local))
    sfn.untag_resource(resourceArn=arn, tagKeys=[config.SERIES_TAG_KEY])
    workflows.create_or_update(local, workflows.training(names, local))  # exists: tags again
    assert {"key": config.SERIES_TAG_KEY, "value": config.SERIES_TAG_VALUE} in \
        sfn.list_tags_for_resource(resourceArn=arn)["tags"]


def test_the_series_own_workflows_tag_their_sagemaker_resources(local):
    names = workflows.Names.from_aws(local)
    arn = workflows.create_or_update(local, workflows.training_parameters(names, local))
    execution = helpers.inputs.start_validated(
        local, arn, helpers.inputs.training_input(local, "tagged", {"max_leaf_nodes": "3"}))
    job = helpers.executions.output(helpers.executions.wait(local, execution, timeout=120))
    tags = local.client("sagemaker").list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
    assert TAG in tags
