"""Endpoint start-up: CreateEndpoint -> InService for the series' model, on two local AWSes side
by side: one starting `serve` as a plain new process (TUTORIAL_LOCAL_WARM_PROGRAMS=0) and one
with the default (forked from the image's warm interpreter). Endpoints alternate between them."""
import os
import sys
import time

from _local import side_by_side

RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def trained_model(aws) -> tuple[str, str]:
    """(image URI, model.tar.gz URI) of one §1 training run."""
    import helpers
    names = helpers.workflows.Names.from_aws(aws)
    arn = helpers.workflows.create_or_update(aws, helpers.workflows.training(names, aws))
    execution = helpers.executions.wait(aws, helpers.workflows.start(aws, arn))
    job = aws.client("sagemaker").describe_training_job(
        TrainingJobName=f"sagemaker-bring-your-own-{execution['name']}")
    return (job["AlgorithmSpecification"]["TrainingImage"],
            job["ModelArtifacts"]["S3ModelArtifacts"])


def start_endpoint(aws, image: str, model_data: str, role: str) -> float:
    """Seconds from CreateEndpoint to InService (then the endpoint is deleted)."""
    sagemaker = aws.client("sagemaker")
    name = f"bench-{time.time_ns()}"
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=role,
                           PrimaryContainer={"Image": image, "ModelDataUrl": model_data})
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    began = time.perf_counter()
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (status := sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]) in (
            "Creating",):
        time.sleep(0.02)
    seconds = time.perf_counter() - began
    assert status == "InService", status
    sagemaker.delete_endpoint(EndpointName=name)
    return seconds


def main():
    import helpers

    def prepare(aws):
        return (*trained_model(aws), helpers.workflows.Names.from_aws(aws).sagemaker_role_arn)

    def measure_one(*setup):
        seconds = start_endpoint(*setup)
        return seconds, f"{seconds:.3f}"

    side_by_side(prepare, measure_one, RUNS, "CreateEndpoint -> InService")


if __name__ == "__main__":
    sys.exit(main())
