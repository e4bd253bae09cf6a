"""The aws-sdk integration (`arn:aws:states:::aws-sdk:sagemaker:<action>`) reaches every
SageMaker operation the local AWS serves, and names errors as AWS documents ("Learning to use AWS
service SDK integrations in Step Functions": the Error is "ServiceName.ErrorName", the error name
with an "Exception" suffix added when it has none;
https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html). An error
SageMaker's API model does not declare (ValidationException, AccessDeniedException, throttling)
reaches Step Functions as the SDK's service exception, SageMaker.SageMakerException: it is what
workflows on AWS catch from describeEndpoint when the endpoint does not exist."""
import json
import time

import pytest

from local_aws import faults
from tests.conftest import BUCKET, run_state_machine, training_request, wait_for_job


def unique(prefix):
    return f"{prefix}-{time.time_ns()}"


def sdk_call(action, parameters, catch=False):
    task = {"Type": "Task", "Resource": f"arn:aws:states:::aws-sdk:sagemaker:{action}",
            "Parameters": parameters}
    if catch:
        task.update(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], Next="Done")
        return {"StartAt": "Call", "States": {"Call": task,
                                              "Caught": {"Type": "Pass", "End": True},
                                              "Done": {"Type": "Succeed"}}}
    return {"StartAt": "Call", "States": {"Call": dict(task, End=True)}}


@pytest.fixture(scope="module")
def resources(aws):
    """One of each kind: a training job, a model, a transform job, a processing job."""
    sagemaker, names = aws("sagemaker"), {}
    names["training"] = unique("sdk-train")
    sagemaker.create_training_job(**training_request(aws, names["training"]))
    artifacts = wait_for_job(aws, names["training"])["ModelArtifacts"]["S3ModelArtifacts"]
    names["model"] = unique("sdk-model")
    sagemaker.create_model(ModelName=names["model"], ExecutionRoleArn=aws.role_arn,
                           PrimaryContainer={"Image": aws.image, "ModelDataUrl": artifacts})
    aws("s3").put_object(Bucket=BUCKET, Key="sdk/rows.csv", Body=b"5.1,3.5,1.4,0.2\n")
    names["transform"] = unique("sdk-transform")
    sagemaker.create_transform_job(
        TransformJobName=names["transform"], ModelName=names["model"],
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/sdk/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/sdk-out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    names["processing"] = unique("sdk-processing")
    sagemaker.create_processing_job(
        ProcessingJobName=names["processing"], RoleArn=aws.role_arn,
        AppSpecification={"ImageUri": aws.image, "ContainerEntrypoint": ["evaluate"],
                          "ContainerArguments": ["--help"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1,
                                               "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 1}})
    return names


@pytest.mark.parametrize("action, parameters, check", [
    ("describeTrainingJob", {"TrainingJobName": "training"}, "TrainingJobStatus"),
    ("listTrainingJobs", {"NameContains": "training"}, "TrainingJobSummaries"),
    ("describeModel", {"ModelName": "model"}, "PrimaryContainer"),
    ("listModels", {"NameContains": "model"}, "Models"),
    ("describeTransformJob", {"TransformJobName": "transform"}, "TransformJobStatus"),
    ("listTransformJobs", {"NameContains": "transform"}, "TransformJobSummaries"),
    ("describeProcessingJob", {"ProcessingJobName": "processing"}, "ProcessingJobStatus"),
    ("listProcessingJobs", {"NameContains": "processing"}, "ProcessingJobSummaries"),
])
def test_aws_sdk_reaches_the_local_sagemaker(aws, resources, action, parameters, check):
    parameters = {key: resources[value] for key, value in parameters.items()}
    execution, _ = run_state_machine(aws, sdk_call(action, parameters))
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    output = json.loads(execution["output"])
    if action.startswith("describe"):
        name_field = next(iter(parameters))
        assert output[name_field] == parameters[name_field]
        assert check in output
    else:
        assert len(output[check]) == 1  # the one created above, found by its unique name


def test_every_local_sagemaker_operation_is_named_in_this_test(server):
    """A new operation of the local AWS gets a case above (or here, for the writes)."""
    tested = {"DescribeTrainingJob", "ListTrainingJobs", "DescribeModel", "ListModels",
              "DescribeTransformJob", "ListTransformJobs", "DescribeProcessingJob",
              "ListProcessingJobs"}
    # the tuning operations: test_aws_sdk_reaches_the_local_tuning_jobs
    tested |= {"DescribeHyperParameterTuningJob", "ListHyperParameterTuningJobs",
               "ListTrainingJobsForHyperParameterTuningJob"}
    writes = {op for op in server.app._operations
              if op.startswith(("Create", "Delete", "Stop", "Update", "Add"))}
    others = {"DescribeEndpoint", "DescribeEndpointConfig", "ListEndpoints",
              "ListEndpointConfigs", "ListTags"}  # reached the same way, through the same router
    untested = set(server.app._operations) - tested - writes - others
    assert untested == set(), f"add aws-sdk cases for {sorted(untested)}"


def test_an_undeclared_service_error_is_the_services_exception_with_its_cause(aws):
    execution, _ = run_state_machine(aws, sdk_call(
        "describeTransformJob", {"TransformJobName": "no-such-job"}, catch=True))
    caught = json.loads(execution["output"])
    assert caught["Error"] == "SageMaker.SageMakerException"
    assert "transform job 'no-such-job' does not exist" in caught["Cause"]
    assert "Service: SageMaker, Status Code: 400" in caught["Cause"]


def test_a_modelled_error_keeps_its_name_with_the_exception_suffix(aws, server):
    name = unique("sdk-limited")
    parameters = training_request(aws, name)
    with faults.injected(server.url, "CreateTrainingJob", "ResourceLimitExceeded", times=1,
                         name_contains=name):
        execution, _ = run_state_machine(aws, sdk_call("createTrainingJob", parameters,
                                                       catch=True))
    assert json.loads(execution["output"])["Error"] == "SageMaker.ResourceLimitExceededException"


def test_aws_sdk_reaches_the_local_tuning_jobs(aws):
    """The tuning operations answer through aws-sdk too: a list, and a missing job's
    ResourceNotFound (an error SageMaker's API model declares, so it keeps its name)."""
    execution, _ = run_state_machine(aws, sdk_call("listHyperParameterTuningJobs",
                                                   {"NameContains": "sdk-no-such-tuning"}))
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert json.loads(execution["output"])["HyperParameterTuningJobSummaries"] == []
    for action in ("describeHyperParameterTuningJob",
                   "listTrainingJobsForHyperParameterTuningJob"):
        execution, _ = run_state_machine(aws, sdk_call(
            action, {"HyperParameterTuningJobName": "sdk-no-such-tuning"}, catch=True))
        caught = json.loads(execution["output"])
        assert caught["Error"] == "SageMaker.ResourceNotFoundException", (action, caught)
        assert "sdk-no-such-tuning" in caught["Cause"]
