"""The exercises of notebook 00 · Setup."""
from __future__ import annotations

import json

from .. import config
from ..names import Names
from . import NotYet, exercise
from .common import short


@exercise("00.1", "iam:PassRole for one role, to one service",
          "a policy statement (a dict with Effect, Action, Resource and Condition)")
def _pass_role_statement(aws, answer, feedback):
    if not isinstance(answer, dict):
        raise NotYet(f"`answer` should be a policy statement, a dict like {{'Effect': 'Allow', "
                     f"'Action': ..., 'Resource': ..., 'Condition': ...}}; got {short(answer)}.")
    names = Names.from_aws(aws)
    if answer.get("Effect") != "Allow":
        feedback.problems.append(f"Effect is {answer.get('Effect')!r}: the statement must "
                                 "'Allow' the pass, or the workflow cannot start a job at all.")
    actions = answer.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    if "iam:PassRole" not in actions:
        feedback.problems.append(f"Action is {actions}: the permission to hand a role to a "
                                 "service is 'iam:PassRole'.")
    elif len(actions) > 1:
        others = sorted(set(actions) - {"iam:PassRole"})
        feedback.problems.append(f"The statement also allows {others}: keep it to "
                                 "'iam:PassRole' alone.")
    resources = answer.get("Resource", [])
    resources = [resources] if isinstance(resources, str) else list(resources)
    if "*" in resources:
        feedback.problems.append("Resource is '*': the workflow could then hand *any* role of the "
                                 "account, an administrator's too, to SageMaker. Name the "
                                 f"SageMaker execution role's ARN: {names.sagemaker_role_arn}.")
    elif names.workflow_role_arn in resources:
        feedback.problems.append("Resource names the Step Functions role itself; the role the "
                                 "workflow passes to SageMaker is the SageMaker execution role, "
                                 f"{names.sagemaker_role_arn}.")
    elif resources != [names.sagemaker_role_arn]:
        feedback.problems.append(f"Resource is {resources}; it should be exactly the SageMaker "
                                 f"execution role's ARN, {names.sagemaker_role_arn}.")
    passed_to = answer.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
    if passed_to is None:
        feedback.problems.append("No Condition: add {'StringEquals': {'iam:PassedToService': "
                                 "'sagemaker.amazonaws.com'}} so the role can be passed to "
                                 "SageMaker only, not to another service.")
    elif passed_to != "sagemaker.amazonaws.com":
        feedback.problems.append(f"The Condition lets the role go to {passed_to!r}; the service "
                                 "that uses it is 'sagemaker.amazonaws.com'.")
    if feedback.passed:
        feedback.notes.append("This is the statement the Step Functions role already has: one "
                              "role, one service. Without it, CreateTrainingJob fails with "
                              "AccessDenied on iam:PassRole.")


@exercise("00.2", "Who may assume the SageMaker execution role?",
          "the service principal (a string) read from the role's trust policy")
def _trust_principal(aws, answer, feedback):
    if not isinstance(answer, str):
        raise NotYet(f"`answer` should be a string such as 'example.amazonaws.com'; "
                     f"got {short(answer)}.")
    role = aws.client("iam").get_role(RoleName=config.SAGEMAKER_ROLE)["Role"]
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    principals = []
    for statement in document["Statement"]:
        service = statement.get("Principal", {}).get("Service", [])
        principals += [service] if isinstance(service, str) else service
    if answer in principals:
        feedback.notes.append(f"{answer} assumes the role when a training job starts; the job "
                              "then acts with the role's permissions (its policy), nothing more.")
    elif answer == "states.amazonaws.com":
        feedback.problems.append("states.amazonaws.com assumes the *Step Functions* role, "
                                 f"{config.WORKFLOW_ROLE}; look at {config.SAGEMAKER_ROLE}'s "
                                 "trust policy.")
    elif answer.startswith("arn:"):
        feedback.problems.append(f"{answer} is an ARN; a trust policy names a *service* "
                                 "principal, a name ending in '.amazonaws.com'.")
    else:
        feedback.problems.append(f"{answer!r} is not in the trust policy; it says "
                                 "Principal → Service → ... (read get_role's "
                                 "AssumeRolePolicyDocument).")


