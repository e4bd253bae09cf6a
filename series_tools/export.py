"""Infrastructure as code: each workflow as Amazon States Language and as a CloudFormation
template holding the state machine and its prerequisites (`python -m helpers export [DIR]`).

The files are region- and account-neutral and use the cheapest instance types that work: the ASL names deployment-specific values as
`${SageMakerRoleArn}`, `${AlertTopicArn}`, `${Bucket}` and `${ImageUri}` (CloudFormation's
DefinitionSubstitutions fill them in), and the template builds every ARN from the stack's own
resources and pseudo parameters. The roles get the scoped policies (helpers.permissions). The
image itself is not in the template: build and push it as notebook 01 does.
"""
from __future__ import annotations

import json
from pathlib import Path

from helpers import config, permissions, prerequisites, workflows
from helpers.names import Names

DEFAULT_DIR = config.REPO_ROOT / "build" / "export"
# Stand-ins the workflows are built with, replaced by substitution variables afterwards.
_STAND_IN = Names(account_id="STANDINACCOUNT", region="standin-region-1",
                  bucket="standin-bucket", topic="sagemaker-workflow-alerts",
                  training_instance_type=config.AWS_TRAINING_INSTANCE_TYPE,
                  endpoint_instance_type=config.AWS_ENDPOINT_INSTANCE_TYPE)
SUBSTITUTIONS = {  # variable -> (stand-in value in the ASL, CloudFormation value)
    "SageMakerRoleArn": (_STAND_IN.sagemaker_role_arn,
                         {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}),
    "AlertTopicArn": (_STAND_IN.topic_arn, {"Ref": "AlertTopic"}),
    "ImageUri": (_STAND_IN.image_uri, {"Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}."
                                                  "${AWS::URLSuffix}/" + config.IMAGE_REPOSITORY}),
    "Bucket": (_STAND_IN.bucket, {"Ref": "Bucket"}),
}
# The scoped policies' variables, as CloudFormation expressions inside Fn::Sub.
POLICY_VARIABLES = {"Partition": "${AWS::Partition}", "Region": "${AWS::Region}",
                    "AccountId": "${AWS::AccountId}", "Bucket": "${Bucket}",
                    "SageMakerRole": "${SageMakerExecutionRole}",
                    "Topic": "${AlertTopic.TopicName}"}
TAGS = [{"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE}]


def asl(workflow_name: str) -> dict:
    """The workflow's definition with ${...} substitution variables for everything specific to
    an account, a region or a deployment."""
    text = json.dumps(workflows.definition(workflows.build(workflow_name, _STAND_IN)))
    for variable, (stand_in, _) in SUBSTITUTIONS.items():  # longest values first: ARNs, then
        text = text.replace(stand_in, "${" + variable + "}")  # the bucket inside S3 URIs
    left = [s for s in ("STANDINACCOUNT", "standin-region-1", "standin-bucket") if s in text]
    if left:
        raise ValueError(f"{workflow_name}: {left} left in the exported definition")
    return json.loads(text)


def _substituted(value):
    """Policy template values as CloudFormation: strings naming ${...} become Fn::Sub."""
    if isinstance(value, dict):
        return {key: _substituted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item) for item in value]
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    return value


def _role_policy(role_name: str) -> dict:
    cfn_variables = dict(permissions.variables(_STAND_IN), **POLICY_VARIABLES)
    # Keep CloudFormation's ${...} for the rendering step: render() fills the template's own
    # variables, and these values are themselves ${...} text for Fn::Sub.
    return _substituted(permissions.render(permissions.scoped_template(role_name),
                                           cfn_variables))


def _role(role_name: str, description: str) -> dict:
    trust_file, _, policy_name = prerequisites.ROLES[role_name]
    return {"Type": "AWS::IAM::Role", "Properties": {
        "Description": description,
        "AssumeRolePolicyDocument": prerequisites.load_policy(trust_file),
        "Policies": [{"PolicyName": policy_name, "PolicyDocument": _role_policy(role_name)}],
        "Tags": TAGS}}


def template(workflow_name: str) -> dict:
    """A CloudFormation template: the state machine, its two roles, the topic and the bucket."""
    definition = asl(workflow_name)
    used = {v: cfn for v, (_, cfn) in SUBSTITUTIONS.items() if "${" + v + "}" in json.dumps(
        definition)}
    state_machine = {
        "StateMachineName": config.STATE_MACHINE_PREFIX + workflow_name,
        "RoleArn": {"Fn::GetAtt": ["StepFunctionsRole", "Arn"]},
        "Definition": definition,
        "Tags": TAGS}
    if used:
        state_machine["DefinitionSubstitutions"] = used
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"The {workflow_name} workflow of the SageMaker + Step Functions series, "
                       "with its roles (least privilege), alert topic and bucket. Push the "
                       f"training image to the ECR repository {config.IMAGE_REPOSITORY} first.",
        "Resources": {
            # Unnamed, so that stacks of several workflows (and the notebooks' own bucket)
            # never collide; the stack's BucketName output says where to upload the data.
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True, "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                "Tags": TAGS}},
            "AlertTopic": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": TAGS}},
            "SageMakerExecutionRole": _role(
                config.SAGEMAKER_ROLE, "Assumed by SageMaker for the series' training jobs and "
                                       "endpoints"),
            "StepFunctionsRole": _role(config.WORKFLOW_ROLE, "Assumed by Step Functions to run "
                                                             "the series' workflows"),
            "StateMachine": {"Type": "AWS::StepFunctions::StateMachine",
                             "Properties": state_machine},
        },
        "Outputs": {
            "StateMachineArn": {"Value": {"Ref": "StateMachine"}},
            "BucketName": {"Value": {"Ref": "Bucket"}},
            "AlertTopicArn": {"Value": {"Ref": "AlertTopic"}},
        },
    }


def export(out_dir: Path = DEFAULT_DIR) -> list[Path]:
    """Write <workflow>.asl.json and <workflow>.template.json for every workflow."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in workflows.BUILDERS:
        for suffix, content in ((".asl.json", asl(name)), (".template.json", template(name))):
            path = out_dir / f"{name}{suffix}"
            path.write_text(json.dumps(content, indent=2) + "\n")
            written.append(path)
    return written
