"""Batch transform against the same model's endpoint called per row, in one run on the local AWS.

One model (the series' decision tree, trained once) scores BENCH_ROWS rows of iris features:
- as a batch transform job (SplitType Line, BatchStrategy MultiRecord, MaxPayloadInMB 6):
  rows/s over the job's whole life (create -> Completed, the container's start included), and
  without the fixed cost of a job (measured as the time of a one-row job: mostly the `serve`
  program's start, gunicorn + Flask + scikit-learn imports);
- through an endpoint of the same model, one InvokeEndpoint per row from one client thread (what
  scoring a file row by row against a real-time endpoint does): rows/s over BENCH_ENDPOINT_ROWS.
Both use the same `serve` program (gunicorn + Flask) with MODEL_SERVER_WORKERS workers.
"""
import os
import sys
import time

from _local import fresh_local_aws

ROWS = int(os.environ.get("BENCH_ROWS", 200000))
ENDPOINT_ROWS = int(os.environ.get("BENCH_ENDPOINT_ROWS", 1000))
FEATURES = ["5.1,3.5,1.4,0.2", "6.7,3.0,5.2,2.3", "5.9,3.0,4.2,1.5", "6.3,2.9,5.6,1.8"]


def wait(describe, status_key, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = describe()
        if described[status_key] not in ("InProgress", "Creating", "Stopping"):
            return described
        time.sleep(0.05)
    raise TimeoutError(status_key)


def main():
    import helpers
    with fresh_local_aws() as aws:
        helpers.data.upload_split(aws)
        names = helpers.workflows.Names.from_aws(aws)
        sagemaker, stamp = aws.client("sagemaker"), time.strftime("%H%M%S")
        job = f"bench-bt-{stamp}"
        sagemaker.create_training_job(
            TrainingJobName=job, RoleArn=names.sagemaker_role_arn,
            AlgorithmSpecification={"TrainingImage": names.image_uri,
                                    "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": "training", "ContentType": "text/csv",
                              "DataSource": {"S3DataSource": {
                                  "S3DataType": "S3Prefix",
                                  "S3Uri": f"s3://{names.bucket}/"
                                           f"{helpers.data.SPLIT_PREFIXES['training']}"}}}],
            OutputDataConfig={"S3OutputPath": names.output_path},
            ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large",
                            "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600})
        trained = wait(lambda: sagemaker.describe_training_job(TrainingJobName=job),
                       "TrainingJobStatus")
        model = f"{helpers.config.MODEL_PREFIX}bench-{stamp}"
        sagemaker.create_model(ModelName=model, ExecutionRoleArn=names.sagemaker_role_arn,
                               PrimaryContainer={"Image": names.image_uri, "ModelDataUrl":
                                                 trained["ModelArtifacts"]["S3ModelArtifacts"]})
        prefix = f"{helpers.config.DATA_PREFIX}/bench/transform-in/"
        workers = os.environ.get("TUTORIAL_LOCAL_SERVE_WORKERS", "1")
        print(f"{ROWS} rows for batch transform, {ENDPOINT_ROWS} rows one by one for the "
              f"endpoint, MODEL_SERVER_WORKERS={workers}")

        def transform(job_name, key, rows):
            aws.client("s3").put_object(
                Bucket=names.bucket, Key=f"{prefix}{key}/rows.csv",
                Body="".join(f"{FEATURES[i % len(FEATURES)]}\n" for i in range(rows)).encode())
            began = time.perf_counter()
            sagemaker.create_transform_job(
                TransformJobName=job_name, ModelName=model,
                BatchStrategy="MultiRecord", MaxPayloadInMB=6,
                TransformInput={"DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": f"s3://{names.bucket}/{prefix}{key}/"}},
                    "ContentType": "text/csv", "SplitType": "Line"},
                TransformOutput={"S3OutputPath": f"s3://{names.bucket}/"
                                                 f"{helpers.config.DATA_PREFIX}/bench/out",
                                 "AssembleWith": "Line"},
                TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
            done = wait(lambda: sagemaker.describe_transform_job(TransformJobName=job_name),
                        "TransformJobStatus")
            assert done["TransformJobStatus"] == "Completed", done.get("FailureReason")
            return time.perf_counter() - began

        fixed = transform(f"bench-one-{stamp}", "one", 1)
        whole = transform(f"bench-bt-{stamp}", "all", ROWS)
        print(f"batch transform of one row (a job's fixed cost): {fixed:7.2f} s")
        print(f"batch transform, whole job (create -> Completed): {whole:7.2f} s "
              f"{ROWS / whole:10.0f} rows/s")
        print(f"batch transform, without the fixed cost:          {whole - fixed:7.2f} s "
              f"{ROWS / max(whole - fixed, 1e-3):10.0f} rows/s")

        config_name = f"{helpers.config.CONFIG_PREFIX}bench-{stamp}"
        sagemaker.create_endpoint_config(EndpointConfigName=config_name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        endpoint = helpers.config.ENDPOINT_NAME
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
        wait(lambda: sagemaker.describe_endpoint(EndpointName=endpoint), "EndpointStatus")
        runtime = aws.client("sagemaker-runtime")
        rows = [f"{FEATURES[i % len(FEATURES)]}\n".encode() for i in range(ENDPOINT_ROWS)]
        began = time.perf_counter()
        for row in rows:
            runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv",
                                    Body=row)["Body"].read()
        per_row = time.perf_counter() - began
        print(f"endpoint, one InvokeEndpoint per row:             {per_row:7.2f} s "
              f"{ENDPOINT_ROWS / per_row:10.0f} rows/s")
        print(f"batch transform (whole job) / endpoint per row: "
              f"{(ROWS / whole) / (ENDPOINT_ROWS / per_row):.1f}x the rows per second")
        helpers.hosting.delete_endpoint(aws)


if __name__ == "__main__":
    sys.exit(main())
