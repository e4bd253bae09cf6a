"""The series' workflows, built with the AWS Step Functions Data Science SDK.

Each builder takes the deployment's `Names` (account, region, bucket, topic) and returns an SDK
`Workflow`; `definition(workflow)` is the Amazon States Language it produces.
`python -m helpers asl <name>` prints any of them.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

import boto3

from . import config, costs, data, sdk
from .names import Names  # noqa: F401 - notebooks use helpers.workflows.Names
from .sdk import Intrinsic, steps

DOCUMENT_COMMENT = "An example to train and host SageMaker model"
# The series' tag on the SageMaker resources its own workflows (§3-§5) create. §1 and §2 stay
# exactly the document's definitions, without tags.
SAGEMAKER_TAGS = {config.SERIES_TAG_KEY: config.SERIES_TAG_VALUE}
TRAINING_JOB_PREFIX = "sagemaker-bring-your-own"
# The document's training resources (the instance type comes from Names: the document's
# ml.c4.2xlarge locally, the cheapest that works on AWS; see helpers.config and helpers.costs).
VOLUME_SIZE_GB = 10
MAX_RUNTIME_SECONDS = 172800


def _boto_session(names: Names, aws=None):
    # The SDK only needs a session to build definitions; none of this calls AWS.
    return aws.session if aws else boto3.Session(region_name=names.region)


def estimator(names: Names, aws=None, **overrides):
    """The SageMaker Estimator whose settings become the training task's parameters."""
    settings = dict(
        image_uri=names.image_uri, role=names.sagemaker_role_arn, instance_count=1,
        instance_type=names.training_instance_type, volume_size=VOLUME_SIZE_GB,
        max_run=MAX_RUNTIME_SECONDS,
        output_path=names.output_path,
        # The SDK would otherwise add Debugger and Profiler settings the document does not have.
        debugger_hook_config=False, disable_profiler=True,
        sagemaker_session=sdk.sagemaker_session(_boto_session(names, aws)))
    settings.update(overrides)
    return sdk.Estimator(**settings)


def training_step(names: Names, aws=None, state_id: str = "SageMakerModelTraining",
                  job_name: str = f"States.Format('{TRAINING_JOB_PREFIX}-{{}}', "
                                  "$$.Execution.Name)", **task_fields):
    """A Task state running `sagemaker:createTrainingJob.sync` on the training channel.
    `task_fields` are the SDK's other Task fields, e.g. `timeout_seconds=60`."""
    return steps.TrainingStep(
        state_id,
        estimator=estimator(names, aws),
        job_name=Intrinsic(job_name),
        data={"training": sdk.TrainingInput(names.training_data_uri, content_type="text/csv")},
        hyperparameters={},
        wait_for_completion=True,  # .sync: the state ends when the job ends
        **task_fields,
    )


# The series' tag on every state machine it creates (clean-up finds them by it).
WORKFLOW_TAGS = [{"key": config.SERIES_TAG_KEY, "value": config.SERIES_TAG_VALUE}]


def workflow(name: str, chain, names: Names, aws=None):
    """An SDK Workflow named sagemaker-byo-<name>, run as the document's Step Functions role."""
    client = aws.client("stepfunctions") if aws else boto3.client(
        "stepfunctions", region_name=names.region)
    return sdk.Workflow(name=config.STATE_MACHINE_PREFIX + name, definition=chain,
                        role=names.workflow_role_arn, comment=DOCUMENT_COMMENT, client=client,
                        tags=WORKFLOW_TAGS)


def training(names: Names, aws=None):
    """Document §1: one training task."""
    return workflow("training", steps.Chain([training_step(names, aws)]), names, aws)


# Document §2: retry a rejected CreateTrainingJob 5 times, 1 s apart growing by 1.1x; anything
# still failing is caught, announced on SNS, and ends in a Fail state.
RETRY_SAGEMAKER_EXCEPTION = dict(error_equals=["SageMaker.AmazonSageMakerException"],
                                 interval_seconds=1, max_attempts=5, backoff_rate=1.1)
# §2 improved. SageMaker.AmazonSageMakerException names every rejected CreateTrainingJob: a
# throttled one (worth retrying), but also a validation error, a duplicate job name or a role
# SageMaker cannot assume (not worth it). The name cannot tell them apart, so: few retries, each
# wait doubling but capped at MaxDelaySeconds, with full jitter (a random wait up to that) so
# that executions throttled together do not retry together. A permanent error wastes seconds,
# never a job: a rejected request created none.
RETRY_REJECTED_REQUEST = dict(error_equals=["SageMaker.AmazonSageMakerException"],
                              interval_seconds=1, max_attempts=4, backoff_rate=2.0,
                              max_delay_seconds=4, jitter_strategy="FULL")
DETAILED_JOB_NAME = (f"States.Format('{TRAINING_JOB_PREFIX}-{{}}-{{}}', $$.Execution.Name, "
                     "$$.State.RetryCount)")
DETAILED_MESSAGE = ("States.Format('Training failed in execution {}. Error: {}. Cause: {}', "
                    "$$.Execution.Name, $.error.Error, $.error.Cause)")


def failure_notification(names: Names, message=None, subject="[ERROR] Model Training failed!"):
    """An SNS publish to the series' topic, then a Fail state: the failure path of §2."""
    parameters = {"Subject": subject, "TopicArn": names.topic_arn, "MessageAttributes": {}}
    if isinstance(message, Intrinsic):
        parameters["Message.$"] = message.expression
    else:
        parameters["Message"] = message or "Error during model training!"
    notify = steps.SnsPublishStep("Notify Failure", parameters=parameters)
    notify.next(steps.Fail("Fail"))
    return notify


def training_retry_notify(names: Names, aws=None):
    """Document §2: the training task with Retry, a Catch that notifies on SNS, and Fail."""
    train = training_step(names, aws)
    train.add_retry(steps.Retry(**RETRY_SAGEMAKER_EXCEPTION))
    train.add_catch(steps.Catch(error_equals=["States.ALL"],
                                next_step=failure_notification(names)))
    return workflow("training-retry-notify", steps.Chain([train]), names, aws)


def failure_reason(then):
    """From the Catch's $.error to an error whose Cause is one line a person can read: for a job
    that ran and failed (States.TaskFailed) the Cause is its DescribeTrainingJob as a JSON
    string, so it is parsed (States.StringToJson) and its FailureReason kept; any other error's
    Cause is already a message. Returns the first state; all paths continue with `then`."""
    did_the_job_run = steps.Choice("Did the job run?")
    read = steps.Pass("Read the job's description", result_path="$.error", parameters={
        "Error.$": "$.error.Error", "Job.$": "States.StringToJson($.error.Cause)"})
    keep = steps.Pass("Keep its FailureReason", result_path="$.error", parameters={
        "Error.$": "$.error.Error",
        "Cause.$": "States.Format('training job {} failed: {}', $.error.Job.TrainingJobName, "
                   "$.error.Job.FailureReason)"})
    did_the_job_run.add_choice(
        steps.ChoiceRule.StringEquals("$.error.Error", "States.TaskFailed"), read)
    did_the_job_run.default_choice(then)
    read.next(keep)
    keep.next(then)
    return did_the_job_run


def training_retry_notify_detailed(names: Names, aws=None):
    """§2 improved: the job name carries $$.State.RetryCount (a retry after the job was created
    gets a new name instead of colliding with its own); rejected requests are retried with a
    capped, jittered back-off; the catcher keeps the input and adds the error under $.error; the
    alert names the execution, the error and, for a failed job, its FailureReason."""
    train = training_step(names, aws, job_name=DETAILED_JOB_NAME)
    train.add_retry(sdk.Retry(**RETRY_REJECTED_REQUEST))
    notify = failure_notification(names, Intrinsic(DETAILED_MESSAGE))
    train.add_catch(steps.Catch(error_equals=["States.ALL"], result_path="$.error",
                                next_step=failure_reason(then=notify)))
    return workflow("training-retry-notify-detailed", steps.Chain([train]), names, aws)


# ---- §3: one definition, many runs -------------------------------------------------------

# What a run of `training-parameters` takes from its execution input (helpers.inputs checks it).
EXECUTION_INPUT_SCHEMA = {"ModelPrefix": str, "TrainingImage": str, "TrainingDataUri": str,
                          "OutputPath": str, "TrainingRoleArn": str, "ContentType": str,
                          "Hyperparameters": dict, "AlertTopicArn": str}
# What the Estimator gets where the SDK refuses a placeholder; TrainingStep(parameters=...)
# replaces both with the execution input's values, so neither reaches the definition.
STAND_IN_IMAGE = "set-from-the-execution-input"
STAND_IN_ROLE = "arn:aws:iam::000000000000:role/set-from-the-execution-input"
METRIC_DEFINITIONS = [{"Name": "train:accuracy", "Regex": r"train_accuracy: ([0-9.]+)"},
                      {"Name": "validation:accuracy", "Regex": r"validation_accuracy: ([0-9.]+)"}]


def training_step_from_input(names: Names, aws=None, state_id: str = "Train model"):
    """A training step whose image, role, data, content type, output path and hyperparameters
    all come from the execution input.

    The SDK workaround, in this one place: `Estimator(image_uri=<placeholder>)` raises and `role`
    must be a string, so the Estimator gets stand-ins, and the real values are merged over them
    through TrainingStep's `parameters`, where placeholders are allowed (each becomes a
    `"Field.$": "$$.Execution.Input['Field']"`).
    """
    run = sdk.ExecutionInput(schema=EXECUTION_INPUT_SCHEMA)
    stand_in = estimator(names, aws, image_uri=STAND_IN_IMAGE, role=STAND_IN_ROLE,
                         metric_definitions=METRIC_DEFINITIONS)
    return steps.TrainingStep(
        state_id, estimator=stand_in,
        job_name=Intrinsic("States.Format('{}-{}', $$.Execution.Input.ModelPrefix, "
                           "$$.Execution.Name)"),
        hyperparameters=run["Hyperparameters"], output_data_config_path=run["OutputPath"],
        tags=SAGEMAKER_TAGS,
        parameters={
            "AlgorithmSpecification": {"TrainingImage": run["TrainingImage"]},
            "RoleArn": run["TrainingRoleArn"],
            "InputDataConfig": [{
                "ChannelName": "training", "ContentType": run["ContentType"],
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                "S3Uri": run["TrainingDataUri"],
                                                "S3DataDistributionType": "FullyReplicated"}}}],
        })


def training_parameters(names: Names, aws=None):
    """§3: every deployment-specific value comes from the execution input; the error handling is
    §2's improved variant, alerting the topic the input names."""
    train = training_step_from_input(names, aws)
    train.add_retry(steps.Retry(**RETRY_SAGEMAKER_EXCEPTION))
    notify = steps.SnsPublishStep("Notify Failure", parameters={
        "TopicArn": sdk.ExecutionInput(schema=EXECUTION_INPUT_SCHEMA)["AlertTopicArn"],
        "Subject": "[ERROR] Model Training failed!",
        "Message": Intrinsic("States.Format('Training failed in execution {}. Error: {}. "
                             "Cause: {}', $$.Execution.Name, $.error.Error, $.error.Cause)")})
    notify.next(steps.Fail("Fail"))
    train.add_catch(steps.Catch(error_equals=["States.ALL"], result_path="$.error",
                                next_step=notify))
    return workflow("training-parameters", steps.Chain([train]), names, aws)


# ---- §4: training several models -----------------------------------------------------------

def split_training_step(names: Names, aws, state_id: str, job_name: str, hyperparameters):
    """A training step on the split data (training and validation channels), with metrics."""
    channels = {channel: sdk.TrainingInput(f"s3://{names.bucket}/{prefix}", content_type="text/csv")
                for channel, prefix in data.SPLIT_PREFIXES.items()}
    return steps.TrainingStep(state_id, estimator=estimator(names, aws,
                                                            metric_definitions=METRIC_DEFINITIONS),
                              job_name=Intrinsic(job_name), data=channels,
                              hyperparameters=hyperparameters, tags=SAGEMAKER_TAGS)


def train_multiple(names: Names, aws=None, max_concurrency: int = 2):
    """§4: a Parallel state trains two fixed configurations side by side; then a Map state trains
    one model per hyperparameter set of the input, at most `max_concurrency` at a time."""
    parallel = steps.Parallel("Train two configurations", result_path="$.ParallelResults")
    for label, leaves in (("shallow", "3"), ("deep", "16")):
        parallel.add_branch(split_training_step(
            names, aws, f"Train {label} tree",
            f"States.Format('{{}}-{label}', $$.Execution.Name)", {"max_leaf_nodes": leaves}))
    per_set = steps.Map(
        "Train each hyperparameter set", items_path="$.HyperparameterSets",
        max_concurrency=max_concurrency,
        parameters={"Hyperparameters.$": "$$.Map.Item.Value", "Index.$": "$$.Map.Item.Index"},
        result_path="$.MapResults",
        iterator=split_training_step(
            names, aws, "Train with this set",
            "States.Format('{}-set-{}', $$.Execution.Name, $.Index)",
            Intrinsic("$.Hyperparameters")))
    return workflow("train-multiple", steps.Chain([parallel, per_set]), names, aws)


# ---- §5: train and host ---------------------------------------------------------------------

ENDPOINT_NAME = config.ENDPOINT_NAME
# How long to wait between endpoint status checks: a real endpoint takes minutes to start, the
# local one about a second. The only place where a definition depends on the backend.
ENDPOINT_POLL_SECONDS = {"aws": 30, "local": 1}


def _describe_endpoint(state_id: str, **kwargs):
    """DescribeEndpoint through the AWS SDK integration (the optimized SageMaker integration
    has no describe): `arn:aws:states:::aws-sdk:sagemaker:describeEndpoint`."""
    return steps.Task(state_id, resource="arn:aws:states:::aws-sdk:sagemaker:describeEndpoint",
                      parameters={"EndpointName": ENDPOINT_NAME}, **kwargs)


# Create or update: the AWS SDK integration names a failed call's error <Service>.<Exception>
# (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
# SageMaker answers a missing endpoint with ValidationException, which its API model does not
# declare, so Step Functions reports the SDK's generic SageMaker.SageMakerException, Cause
# 'Could not find endpoint "<arn>". (Service: SageMaker, Status Code: 400, Request ID: ...)'.
# AccessDenied and throttling arrive under the same error name: only the Cause tells "not found"
# apart, so a Choice routes on it and everything else goes to the failure alert.
ENDPOINT_LOOKUP_ERROR = "SageMaker.SageMakerException"
ENDPOINT_NOT_FOUND_CAUSE = 'Could not find endpoint "*'


def train_and_host(names: Names, aws=None):
    """§5: train, create a model and an endpoint configuration, create the endpoint if there is
    none or update it if there is one, wait until it is InService, and announce the result."""
    by_run = "$$.Execution.Name"
    train = split_training_step(names, aws, "Train model",
                                f"States.Format('byo-hosted-{{}}', {by_run})",
                                {"max_leaf_nodes": "8"})
    model_name = Intrinsic(f"States.Format('{config.MODEL_PREFIX}{{}}', {by_run})")
    config_name = Intrinsic(f"States.Format('{config.CONFIG_PREFIX}{{}}', {by_run})")
    model = steps.ModelStep("Create model", model=train.get_expected_model(),
                            model_name=model_name, tags=SAGEMAKER_TAGS)
    endpoint_config = steps.EndpointConfigStep(
        "Create endpoint configuration", endpoint_config_name=config_name,
        model_name=model_name, initial_instance_count=1,
        instance_type=names.endpoint_instance_type, tags=SAGEMAKER_TAGS)
    create = steps.EndpointStep("Create endpoint", endpoint_name=ENDPOINT_NAME,
                                endpoint_config_name=config_name, tags=SAGEMAKER_TAGS)
    update = steps.EndpointStep("Update endpoint", endpoint_name=ENDPOINT_NAME,
                                endpoint_config_name=config_name, update=True)
    notify = failure_notification(names, Intrinsic(
        "States.Format('Deployment failed in execution {}. Error: {}. Cause: {}', "
        "$$.Execution.Name, $.error.Error, $.error.Cause)"))
    notify.parameters["Subject"] = "[ERROR] Model deployment failed!"

    # Does the endpoint exist? Found: update it. "Could not find endpoint": create it.
    # Any other failure of the lookup (no permission, throttled...): alert, change nothing.
    find = _describe_endpoint("Find the endpoint", result_path=None)
    missing = steps.Choice("Endpoint not found?")
    missing.add_choice(steps.ChoiceRule.StringMatches("$.error.Cause", ENDPOINT_NOT_FOUND_CAUSE),
                       create)
    missing.default_choice(notify)
    find.add_catch(steps.Catch(error_equals=[ENDPOINT_LOOKUP_ERROR], result_path="$.error",
                               next_step=missing))
    find.add_catch(steps.Catch(error_equals=["States.ALL"], result_path="$.error",
                               next_step=notify))
    find.next(update)

    # No .sync for endpoints: Wait, DescribeEndpoint, Choice, until InService or Failed.
    wait = steps.Wait("Wait for the endpoint", seconds=ENDPOINT_POLL_SECONDS[
        aws.settings.backend if aws else "aws"])
    status = _describe_endpoint("Check the endpoint", result_path="$.endpoint")
    is_it_ready = steps.Choice("Is it in service?")
    succeeded = steps.SnsPublishStep("Notify Success", parameters={
        "TopicArn": names.topic_arn, "Subject": "[OK] Model deployed",
        "Message": Intrinsic(f"States.Format('Endpoint {ENDPOINT_NAME} is InService with the "
                             f"model of execution {{}}.', {by_run})")})
    failed_endpoint = steps.Pass("Endpoint failed", result_path="$.error", parameters={
        "Error": "EndpointFailed", "Cause": Intrinsic("$.endpoint.FailureReason")})
    is_it_ready.add_choice(steps.ChoiceRule.StringEquals("$.endpoint.EndpointStatus",
                                                         "InService"), succeeded)
    is_it_ready.add_choice(steps.ChoiceRule.StringEquals("$.endpoint.EndpointStatus", "Failed"),
                           failed_endpoint)
    is_it_ready.default_choice(wait)
    create.next(wait)
    update.next(wait)
    wait.next(status)
    status.next(is_it_ready)
    failed_endpoint.next(notify)
    for task in (train, model, endpoint_config, create, update, status, succeeded):
        task.add_catch(steps.Catch(error_equals=["States.ALL"], result_path="$.error",
                                   next_step=notify))
    chain = steps.Chain([train, model, endpoint_config, find])
    return workflow("train-and-host", chain, names, aws)


BUILDERS = {"training": training, "training-retry-notify": training_retry_notify,
            "training-retry-notify-detailed": training_retry_notify_detailed,
            "training-parameters": training_parameters, "train-multiple": train_multiple,
            "train-and-host": train_and_host}


def reference(workflow_name: str, names: Names, aws=None):
    """The answer key: the series' reference construction of a workflow, as the notebook that
    teaches it builds it. A learner who skipped a construction cell continues with this; the tests
    assert that each notebook's own cells yield exactly this definition."""
    if workflow_name not in BUILDERS:
        raise KeyError(f"Unknown workflow {workflow_name!r}; one of {', '.join(BUILDERS)}")
    return BUILDERS[workflow_name](names, aws)


build = reference  # the name the tooling (export, `python -m helpers asl`) and older tests use


def definition(workflow) -> dict:
    """The workflow's Amazon States Language definition, as a dict."""
    return json.loads(workflow.definition.to_json())


def state_machine_arn(aws, workflow) -> str:
    return f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:{workflow.name}"


def create_or_update(aws, workflow) -> str:
    """Create the state machine, or update it to this definition if it exists.

    The SDK's Workflow.create() on an existing name silently keeps the old definition; this
    makes the state machine match the workflow either way. Returns its ARN.
    """
    sfn = aws.client("stepfunctions")
    arn = state_machine_arn(aws, workflow)
    try:
        current = sfn.describe_state_machine(stateMachineArn=arn)
    except sfn.exceptions.StateMachineDoesNotExist:
        return workflow.create()
    workflow.state_machine_arn = arn
    if workflow.tags:
        sfn.tag_resource(resourceArn=arn, tags=workflow.tags)
    wanted = definition(workflow)
    if json.loads(current["definition"]) != wanted or current["roleArn"] != workflow.role:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(wanted, indent=2),
                                 roleArn=workflow.role)
    return arn


def map_items(definition: dict, execution_input: dict) -> int:
    """How many items the definition's first Map state gets from this input (1 if unknown)."""
    for state in definition["States"].values():
        path = state.get("ItemsPath", "")
        if state["Type"] == "Map" and path.startswith("$.") and "." not in path[2:]:
            items = execution_input.get(path[2:])
            return len(items) if isinstance(items, list) else 1
    return 1


def new_execution_name(prefix: str = "run") -> str:
    """Readable and unique: run-20261125-184501-3f9c (24 characters, so the document's job-name
    prefix plus this stays under SageMaker's 63-character limit)."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(2)}"


def start(aws, state_machine_arn: str, name: str | None = None,
          execution_input: dict | None = None) -> str:
    """Start an execution with an explicit name (it becomes $$.Execution.Name); returns its ARN.
    On AWS it first prints what the run will create that bills by the hour (helpers.costs)."""
    if not aws.settings.is_local:
        definition = json.loads(aws.client("stepfunctions").describe_state_machine(
            stateMachineArn=state_machine_arn)["definition"])
        print(costs.guard(aws, definition, map_items(definition, execution_input or {})))
    response = aws.client("stepfunctions").start_execution(
        stateMachineArn=state_machine_arn, name=name or new_execution_name(),
        input=json.dumps(execution_input or {}))
    return response["executionArn"]




# Notebooks 10 (tuning) and 11 (many models): their reference builders live in
# helpers.scale_workflows, which builds on this module (so it is imported when first used).
def _scale_workflow(name: str):
    def build(names: Names, aws=None):
        from . import scale_workflows
        return scale_workflows.BUILDERS[name](names, aws)
    build.__name__ = name.replace("-", "_")
    return build


BUILDERS.update({name: _scale_workflow(name) for name in ("tuning", "many-models")})

# Notebook 12's JSONata workflows (helpers.jsonata_workflows), which the SDK cannot build.
from .jsonata_workflows import BUILDERS as _JSONATA_BUILDERS  # noqa: E402

BUILDERS.update(_JSONATA_BUILDERS)
