"""Least privilege for the series' two roles: the scoped policies, what the workflows really ask
of each role, and a small evaluator that says whether a policy allows a request.

The scoped policies (helpers/policies/scoped/) keep the document's actions but name resources:
the series' bucket and prefix, its ECR repository, its log groups, its models, endpoint
configurations and endpoint by name prefix, the one role that may be passed (and only to
SageMaker), the one EventBridge rule `.sync` needs, the one topic; training jobs and endpoint
configurations only on the series' instance types. Training jobs themselves cannot be scoped by
name: §3 lets the execution input choose the job's name.

`workflow_role_requests(history)` and `sagemaker_role_requests(history)` turn an execution's event
history (each task's real parameters, names evaluated) into the IAM requests AWS authorizes for
it, following the Step Functions developer guide's "IAM policies for Amazon SageMaker" and the
Service Authorization Reference; `allows(policy, request)` evaluates a policy the way IAM does for
Allow statements (wildcards, the condition operators the policies use).
"""
from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from . import config
from .names import Names

SCOPED_DIR = Path(__file__).resolve().parent / "policies" / "scoped"
SCOPED_FILES = {config.SAGEMAKER_ROLE: "sagemaker-execution-policy.json",
                config.WORKFLOW_ROLE: "stepfunctions-execution-policy.json"}
SYNC_RULE = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
TUNING_SYNC_RULE = "StepFunctionsGetEventsForSageMakerTuningJobsRule"


def variables(names: Names) -> dict:
    """The values the scoped policy templates are filled with, for one deployment."""
    return {"Partition": "aws", "Region": names.region, "AccountId": names.account_id,
            "Bucket": names.bucket, "DataPrefix": config.DATA_PREFIX,
            "Repository": config.IMAGE_REPOSITORY, "SageMakerRole": config.SAGEMAKER_ROLE,
            "Topic": names.topic, "ModelPrefix": config.MODEL_PREFIX,
            "ConfigPrefix": config.CONFIG_PREFIX,
            "EndpointName": config.ENDPOINT_NAME, "InstanceTypes": names.instance_types,
            "StateMachinePrefix": config.STATE_MACHINE_PREFIX,
            "TuningPrefix": config.TUNING_JOB_PREFIX}


def render(value, values: dict):
    """Fill ${Name} placeholders in a policy template (a whole-string placeholder of a list-valued
    variable becomes the list)."""
    if isinstance(value, dict):
        return {key: render(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, values) for item in value]
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{(\w+)\}", value)
        if whole and isinstance(values.get(whole.group(1)), list):
            return values[whole.group(1)]
        return Template(value).substitute(values)
    return value


def scoped_template(role_name: str) -> dict:
    return json.loads((SCOPED_DIR / SCOPED_FILES[role_name]).read_text())


def scoped_policy(role_name: str, names: Names) -> dict:
    return render(scoped_template(role_name), variables(names))


# ---- what a request needs --------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict = field(default_factory=dict, hash=False, compare=False)

    def __str__(self) -> str:
        extra = f" {self.context}" if self.context else ""
        return f"{self.action} on {self.resource}{extra}"


def _arn(names: Names, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{names.region}:{names.account_id}:{resource}"


def _s3_parts(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _scheduled_tasks(history: list[dict]) -> list[tuple[str, str, dict]]:
    """(resource type, resource, parameters) of every task the execution scheduled."""
    tasks = []
    for event in history:
        details = event.get("taskScheduledEventDetails")
        if details:
            tasks.append((details["resourceType"], details["resource"],
                          json.loads(details["parameters"])))
    return tasks


def workflow_role_requests(history: list[dict], names: Names) -> list[Request]:
    """What Step Functions asks IAM on the workflow role's behalf for these tasks."""
    needed = []
    for resource_type, resource, parameters in _scheduled_tasks(history):
        api = resource.removesuffix(".sync")
        if resource_type == "sagemaker" and api == "createTrainingJob":
            job = _arn(names, "sagemaker", f"training-job/{parameters['TrainingJobName'].lower()}")
            needed.append(Request("sagemaker:CreateTrainingJob", job, {
                "sagemaker:InstanceTypes": [parameters["ResourceConfig"]["InstanceType"]]}))
            needed.append(_pass_role(parameters["RoleArn"]))
            needed += _tagging(parameters, job)
            if resource.endswith(".sync"):
                needed += _followed_for_sync(names, job, (
                    "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:ListTags"), SYNC_RULE)
        elif resource_type == "sagemaker" and api == "createModel":
            model = _arn(names, "sagemaker", f"model/{parameters['ModelName'].lower()}")
            needed += [Request("sagemaker:CreateModel", model)] + _tagging(parameters, model)
            needed.append(_pass_role(parameters["ExecutionRoleArn"]))
        elif resource_type == "sagemaker" and api == "createEndpointConfig":
            config_arn = _arn(names, "sagemaker",
                              f"endpoint-config/{parameters['EndpointConfigName'].lower()}")
            needed.append(Request("sagemaker:CreateEndpointConfig", config_arn, {
                "sagemaker:InstanceTypes": [variant["InstanceType"] for variant in
                                            parameters["ProductionVariants"]]}))
            needed += _tagging(parameters, config_arn)
        elif resource_type == "sagemaker" and api in ("createEndpoint", "updateEndpoint"):
            action = "sagemaker:" + api[0].upper() + api[1:]
            endpoint = parameters["EndpointName"].lower()
            config_name = parameters["EndpointConfigName"].lower()
            endpoint_arn = _arn(names, "sagemaker", f"endpoint/{endpoint}")
            needed += [Request(action, endpoint_arn),
                       Request(action, _arn(names, "sagemaker", f"endpoint-config/{config_name}"))]
            needed += _tagging(parameters, endpoint_arn)
        elif resource_type == "aws-sdk:sagemaker" and resource == "describeEndpoint":
            needed.append(Request("sagemaker:DescribeEndpoint", _arn(
                names, "sagemaker", f"endpoint/{parameters['EndpointName'].lower()}")))
        elif resource_type == "sns" and api == "publish":
            needed.append(Request("sns:Publish", parameters["TopicArn"]))
        elif resource_type == "sagemaker" and api in JOB_KINDS:
            needed += _job_requests(names, api, resource.endswith(".sync"), parameters)
        elif resource_type == "sagemaker" and api == "createHyperParameterTuningJob":
            needed += _tuning_requests(names, parameters, resource.endswith(".sync"))
        elif resource_type == "aws-sdk:sagemaker" and resource == "describeTrainingJob":
            needed.append(Request("sagemaker:DescribeTrainingJob", _arn(
                names, "sagemaker", f"training-job/{parameters['TrainingJobName'].lower()}")))
        else:
            raise ValueError(f"No IAM mapping for the {resource_type} task {resource}: add it "
                             "to helpers.permissions before using it in a workflow.")
    return needed


# The other SageMaker job kinds' Task integrations: (ARN resource type, name field, the API
# name, the managed EventBridge rule behind `.sync`) — Step Functions developer guide, "IAM
# policies for Amazon SageMaker".
JOB_KINDS = {
    "createTransformJob": ("transform-job", "TransformJobName", "TransformJob",
                           "StepFunctionsGetEventsForSageMakerTransformJobsRule"),
    "createProcessingJob": ("processing-job", "ProcessingJobName", "ProcessingJob",
                            "StepFunctionsGetEventsForSageMakerProcessingJobsRule"),
}


def _job_requests(names: Names, api: str, sync: bool, parameters: dict) -> list[Request]:
    """CreateTransformJob / CreateProcessingJob, and for `.sync` what following the job needs."""
    kind, name_field, operation, rule = JOB_KINDS[api]
    job = _arn(names, "sagemaker", f"{kind}/{parameters[name_field].lower()}")
    needed = [Request(f"sagemaker:Create{operation}", job)] + _tagging(parameters, job)
    if "RoleArn" in parameters:  # a processing job runs as the SageMaker role
        needed.append(_pass_role(parameters["RoleArn"]))
    if sync:
        needed += [Request(f"sagemaker:{action}{operation}", job)
                   for action in ("Describe", "Stop")]
        needed.append(Request("sagemaker:ListTags", job))
        needed += [Request(f"events:{action}", _arn(names, "events", f"rule/{rule}"))
                   for action in ("PutTargets", "PutRule", "DescribeRule")]
    return needed


def _tuning_requests(names: Names, parameters: dict, sync: bool) -> list[Request]:
    """CreateHyperParameterTuningJob (Step Functions developer guide, "IAM policies for Amazon
    SageMaker": the tuning job, PassRole, and for .sync its describe/stop and the managed rule)."""
    name = parameters["HyperParameterTuningJobName"].lower()
    job = _arn(names, "sagemaker", f"hyper-parameter-tuning-job/{name}")
    definition = parameters["TrainingJobDefinition"]
    needed = [Request("sagemaker:CreateHyperParameterTuningJob", job, {
        "sagemaker:InstanceTypes": [definition["ResourceConfig"]["InstanceType"]]}),
        _pass_role(definition["RoleArn"])] + _tagging(parameters, job)
    if sync:
        needed += _followed_for_sync(names, job, (
            "sagemaker:DescribeHyperParameterTuningJob", "sagemaker:StopHyperParameterTuningJob",
            "sagemaker:ListTags"), TUNING_SYNC_RULE)
    return needed


def _followed_for_sync(names: Names, job: str, actions, rule_name: str) -> list[Request]:
    """What `.sync` needs to follow a job: its describe/stop calls and the managed EventBridge
    rule Step Functions keeps for that kind of job."""
    rule = _arn(names, "events", f"rule/{rule_name}")
    return [Request(action, job) for action in actions] + [
        Request(f"events:{action}", rule) for action in ("PutTargets", "PutRule", "DescribeRule")]


def distributed_map_requests(definition: dict, state_machine_arn: str,
                             names: Names) -> list[Request]:
    """What a Distributed Map asks of the workflow role besides its child executions' tasks
    (developer guide, "IAM policies for using Distributed Map states"): start its child
    executions (StartExecution on its own state machine), describe and stop them, read the
    ItemReader's object, write the ResultWriter's files."""
    from .graph import all_states
    needed = []
    for state in all_states(definition).values():
        processor = state.get("ItemProcessor") or {}
        if state["Type"] != "Map" or processor.get("ProcessorConfig", {}).get(
                "Mode") != "DISTRIBUTED":
            continue
        machine_name = state_machine_arn.rsplit(":", 1)[1]
        children = _arn(names, "states", f"execution:{machine_name}/*:*")
        needed += [Request("states:StartExecution", state_machine_arn),
                   Request("states:DescribeExecution", children),
                   Request("states:StopExecution", children)]
        reader = (state.get("ItemReader") or {}).get("Parameters", {})
        if reader.get("Key"):
            needed.append(Request("s3:GetObject", f"arn:aws:s3:::{reader['Bucket']}/"
                                                  f"{reader['Key']}"))
        writer = (state.get("ResultWriter") or {}).get("Parameters", {})
        if writer.get("Bucket"):
            results = f"arn:aws:s3:::{writer['Bucket']}/{writer.get('Prefix', '')}/*"
            needed += [Request(f"s3:{action}", results) for action in (
                "PutObject", "GetObject", "ListMultipartUploadParts", "AbortMultipartUpload")]
    return needed


def _tagging(parameters: dict, arn: str) -> list[Request]:
    """Tags given at creation need sagemaker:AddTags on the new resource as well."""
    return [Request("sagemaker:AddTags", arn)] if parameters.get("Tags") else []


def _pass_role(role_arn: str) -> Request:
    return Request("iam:PassRole", role_arn, {"iam:PassedToService": "sagemaker.amazonaws.com"})


def sagemaker_role_requests(history: list[dict], names: Names) -> list[Request]:
    """What SageMaker asks IAM on the execution role's behalf for the jobs and models these
    tasks create: read the channels, write the model, pull the image, write logs and metrics."""
    needed = []
    for resource_type, resource, parameters in _scheduled_tasks(history):
        api = resource.removesuffix(".sync")
        if resource_type == "sagemaker" and api == "createTrainingJob":
            job = parameters["TrainingJobName"]
            for channel in parameters["InputDataConfig"]:
                bucket, prefix = _s3_parts(channel["DataSource"]["S3DataSource"]["S3Uri"])
                needed.append(Request("s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                      {"s3:prefix": prefix}))
                needed.append(Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}data.csv"))
            bucket, key = _s3_parts(parameters["OutputDataConfig"]["S3OutputPath"].rstrip("/"))
            needed.append(Request("s3:PutObject",
                                  f"arn:aws:s3:::{bucket}/{key}/{job}/output/model.tar.gz"))
            needed += _image_requests(names, parameters["AlgorithmSpecification"]["TrainingImage"])
            needed += _log_requests(names, config.TRAINING_LOG_GROUP, f"{job}/algo-1-1")
            needed.append(Request("cloudwatch:PutMetricData", "*",
                                  {"cloudwatch:namespace": config.TRAINING_LOG_GROUP}))
        elif resource_type == "sagemaker" and api == "createModel":
            container = parameters["PrimaryContainer"]
            bucket, key = _s3_parts(container["ModelDataUrl"])
            needed.append(Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"))
            needed += _image_requests(names, container["Image"])
        elif resource_type == "sagemaker" and api == "createTransformJob":
            job = parameters["TransformJobName"]
            bucket, prefix = _s3_parts(
                parameters["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"])
            needed.append(Request("s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                  {"s3:prefix": prefix}))
            needed.append(Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}data.csv"))
            bucket, key = _s3_parts(parameters["TransformOutput"]["S3OutputPath"].rstrip("/"))
            needed.append(Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}/data.csv.out"))
            needed += _log_requests(names, "/aws/sagemaker/TransformJobs", f"{job}/i-0")
        elif resource_type == "sagemaker" and api == "createProcessingJob":
            job = parameters["ProcessingJobName"]
            for item in parameters.get("ProcessingInputs", []):
                bucket, prefix = _s3_parts(item["S3Input"]["S3Uri"])
                needed.append(Request("s3:ListBucket", f"arn:aws:s3:::{bucket}",
                                      {"s3:prefix": prefix}))
                needed.append(Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}"
                                      + ("" if prefix.endswith(".tar.gz") else "data.csv")))
            for item in parameters.get("ProcessingOutputConfig", {}).get("Outputs", []):
                bucket, key = _s3_parts(item["S3Output"]["S3Uri"].rstrip("/"))
                needed.append(Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}/report.json"))
            needed += _image_requests(names, parameters["AppSpecification"]["ImageUri"])
            needed += _log_requests(names, "/aws/sagemaker/ProcessingJobs", f"{job}/algo-1-1")
        elif resource_type == "sagemaker" and api == "createEndpoint":
            group = f"/aws/sagemaker/Endpoints/{parameters['EndpointName']}"
            needed += _log_requests(names, group, "AllTraffic/i-0")
            needed.append(Request("cloudwatch:PutMetricData", "*",
                                  {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}))
    return needed


def _image_requests(names: Names, image_uri: str) -> list[Request]:
    repository = image_uri.split("/", 1)[1].split(":")[0].split("@")[0]
    arn = _arn(names, "ecr", f"repository/{repository}")
    return [Request("ecr:GetAuthorizationToken", "*")] + [
        Request(f"ecr:{action}", arn)
        for action in ("BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage")]


def _log_requests(names: Names, group: str, stream: str) -> list[Request]:
    group_arn = _arn(names, "logs", f"log-group:{group}")
    return [Request("logs:CreateLogGroup", f"{group_arn}:*"),
            Request("logs:CreateLogStream", f"{group_arn}:log-stream:{stream}"),
            Request("logs:DescribeLogStreams", f"{group_arn}:*"),
            Request("logs:PutLogEvents", f"{group_arn}:log-stream:{stream}")]


# ---- evaluating a policy -------------------------------------------------------------------

def _matches(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    # IAM wildcards are * and ? only: escape fnmatch's [ ] before matching.
    pattern = pattern.replace("[", "[[]")
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _listed(element) -> list:
    return element if isinstance(element, list) else [element]


OPERATORS = {"StringEquals": lambda want, have: want == have,
             "StringLike": _matches, "ArnLike": _matches, "ArnEquals": lambda w, h: w == h}


def _condition_holds(condition: dict, context: dict) -> bool:
    for operator, tests in condition.items():
        quantifier, _, base = operator.rpartition(":")
        compare = OPERATORS[base]
        for key, wanted in tests.items():
            wanted = _listed(wanted)
            values = _listed(context.get(key, []))
            if quantifier == "ForAllValues":
                ok = all(any(compare(w, v) for w in wanted) for v in values)
            else:  # single-valued keys, and ForAnyValue
                ok = any(compare(w, v) for w in wanted for v in values)
            if not ok:
                return False
    return True


def allows(policy: dict, request: Request) -> bool:
    """Whether an identity policy allows the request (an explicit Deny wins; no Allow: denied)."""
    allowed = False
    for statement in _listed(policy["Statement"]):
        if not any(_matches(a, request.action, case_sensitive=False)
                   for a in _listed(statement.get("Action", []))):
            continue
        if not any(_matches(r, request.resource) for r in _listed(statement.get("Resource", []))):
            continue
        if not _condition_holds(statement.get("Condition", {}), request.context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed


def denied(policy: dict, requests: list[Request]) -> list[Request]:
    return [request for request in requests if not allows(policy, request)]
