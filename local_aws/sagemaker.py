"""SageMaker training jobs, run as local processes under SageMaker's container contract.

The life cycle every job kind shares (states, stop, limits, logs) is jobs.JobKind's; this module
is what is particular to training. It is the one place training jobs live: boto3 calls from a
notebook (through the HTTP API in `api.py`) and Task states in a workflow (through
`stepfunctions_sagemaker.py`, which calls that same API) see the same jobs.

A job follows AWS's documented behaviour where a learner can observe it:
- CreateTrainingJob validates the name (<= 63 characters, AWS's pattern), rejects a duplicate name
  (ValidationException, as AWS does), checks that the role exists and trusts
  sagemaker.amazonaws.com, and that the image is in (local) ECR.
- Status: InProgress (Starting -> Downloading -> Training -> Uploading) -> Completed | Failed |
  Stopped, with SageMaker's secondary statuses and timestamps.
- Channels are downloaded from (local) S3 with S3Prefix semantics into input/data/<channel>/;
  hyperparameters.json (string values), inputdataconfig.json, resourceconfig.json are written.
- The image's `train` program runs with a temporary directory standing in for /opt/ml (named by
  the OPT_ML environment variable); its output goes to CloudWatch Logs, group
  /aws/sagemaker/TrainingJobs.
- /opt/ml/model is uploaded as <S3OutputPath>/<job>/output/model.tar.gz; a non-zero exit fails the
  job with the first 1024 characters of /opt/ml/output/failure as FailureReason.
- MaxRuntimeInSeconds stops the job (Stopped / MaxRuntimeExceeded); StopTrainingJob works.
- MetricDefinitions regexes applied to the log produce FinalMetricDataList.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from .images import ImageNotFound, resolve_program_dir
from .jobs import (  # noqa: F401 - re-exported: hosting, api and others import them from here
    FAILURE_REASON_LIMIT,
    NAME_PATTERN,
    TERMINAL_STATUSES,
    CloudWatchLog,
    Job,
    JobKind,
    JobSlots,
    SageMakerError,
    check_name,
    now,
    validation_error,
)
from .programs import Program
from .s3files import (
    UnsafePath,
    channel_folder,
    channel_problem,
    client_error,
    download_prefix,
    parse_uri,
    upload_archive,
)

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
REQUIRED_FIELDS = ("TrainingJobName", "AlgorithmSpecification", "RoleArn", "OutputDataConfig",
                   "ResourceConfig", "StoppingCondition")


@dataclass
class TrainingJob(Job):
    model_artifacts: str | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def training_start_time(self) -> dt.datetime | None:
        return self.start_time

    @property
    def training_end_time(self) -> dt.datetime | None:
        return self.end_time

    def describe(self) -> dict:
        """The DescribeTrainingJob response, shaped as AWS returns it."""
        request = self.request
        out = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "ModelArtifacts": {"S3ModelArtifacts": self.model_artifacts or ""},
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary_status,
            "HyperParameters": request.get("HyperParameters", {}),
            "AlgorithmSpecification": {"TrainingInputMode": "File",
                                       **request["AlgorithmSpecification"]},
            "RoleArn": request["RoleArn"],
            "InputDataConfig": request.get("InputDataConfig", []),
            "OutputDataConfig": request["OutputDataConfig"],
            "ResourceConfig": request["ResourceConfig"],
            "StoppingCondition": request["StoppingCondition"],
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "SecondaryStatusTransitions": [dict(t) for t in self.transitions],
            "EnableNetworkIsolation": request.get("EnableNetworkIsolation", False),
            "EnableInterContainerTrafficEncryption": False,
            "EnableManagedSpotTraining": False,
        }
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.start_time:
            out["TrainingStartTime"] = self.start_time
        if self.end_time:
            out["TrainingEndTime"] = self.end_time
            seconds = int((self.end_time - self.start_time).total_seconds())
            out["TrainingTimeInSeconds"] = out["BillableTimeInSeconds"] = max(seconds, 1)
        if self.metrics:
            out["FinalMetricDataList"] = [
                {"MetricName": name, "Value": value, "Timestamp": stamp}
                for name, (value, stamp) in self.metrics.items()]
        if request.get("Environment"):
            out["Environment"] = request["Environment"]
        return out

    def summary(self) -> dict:
        summary = {"TrainingJobName": self.name, "TrainingJobArn": self.arn,
                   "CreationTime": self.creation_time, "LastModifiedTime": self.last_modified_time,
                   "TrainingJobStatus": self.status, "SecondaryStatus": self.secondary_status}
        if self.end_time:
            summary["TrainingEndTime"] = self.end_time
        return summary


class LocalSageMaker(JobKind):
    """Training jobs of one local AWS (the life cycle shared with the other kinds is JobKind's).
    `slots` is the local limit shared with the other job kinds (default: a limit of its own of
    `max_parallel_jobs`)."""

    kind = "training job"
    name_field = "TrainingJobName"
    arn_resource = "training-job"
    log_group = TRAINING_LOG_GROUP
    required_fields = REQUIRED_FIELDS
    job_class = TrainingJob

    def __init__(self, clients, account_id: str, work_root: Path, max_parallel_jobs: int,
                 stop_grace_seconds: float = 10.0, slots: JobSlots | None = None):
        super().__init__(clients, account_id, work_root, slots or JobSlots(max_parallel_jobs),
                         stop_grace_seconds)

    @property
    def max_parallel_jobs(self) -> int:
        return self.slots.limit

    # ---- API operations (their names and signatures are what other modules call) ------------

    def create_training_job(self, request: dict, region: str) -> dict:
        return {"TrainingJobArn": self.create(request, region).arn}

    def describe_training_job(self, name: str, region: str) -> dict:
        return self.get(name, region).describe()

    def list_training_jobs(self, request: dict, region: str) -> dict:
        return self.listed(request, region, "TrainingJobSummaries")

    def stop_training_job(self, name: str, region: str) -> dict:
        self.stop(name, region)
        return {}

    def describe(self, job: TrainingJob) -> dict:
        return job.describe()

    def summary(self, job: TrainingJob) -> dict:
        return job.summary()

    # ---- validation ------------------------------------------------------------------------

    def _duplicate_message(self, existing: Job) -> str:
        return ("Training job names must be unique within an AWS account and region, and a "
                f"training job with this name already exists ({existing.arn})")

    def _validate(self, request: dict, region: str):
        hyperparameters = request.get("HyperParameters") or {}
        bad = [k for k, v in hyperparameters.items() if not isinstance(v, str)]
        if bad:
            raise validation_error(
                "Hyperparameter values must be strings; not strings: " + ", ".join(sorted(bad)))
        for number, channel in enumerate(request.get("InputDataConfig") or [], start=1):
            problem = channel_problem(channel.get("ChannelName"))
            if problem:
                raise validation_error(
                    f"1 validation error detected: Value '{channel.get('ChannelName')}' at "
                    f"'inputDataConfig.{number}.member.channelName' failed to satisfy "
                    f"constraint: {problem}")
            uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri", "")
            if not uri.startswith("s3://"):
                raise validation_error(f"Channel '{channel.get('ChannelName')}': S3Uri must be "
                                       f"an s3:// URI, got '{uri}'.")
        if not request["OutputDataConfig"].get("S3OutputPath", "").startswith("s3://"):
            raise validation_error("OutputDataConfig.S3OutputPath must be an s3:// URI.")
        self._validate_role(request["RoleArn"], region)
        try:
            resolve_program_dir(self._clients("ecr", region),
                                request["AlgorithmSpecification"].get("TrainingImage", ""))
        except ImageNotFound as error:
            raise validation_error(str(error)) from None

    # ---- the job's work --------------------------------------------------------------------

    def _execute(self, job: TrainingJob, opt_ml: Path):
        request, region = job.request, job.region
        self._started(job)
        self._progress(job, "Downloading", "Downloading input data")
        for folder in ("input/config", "input/data", "model", "output/data", "code"):
            (opt_ml / folder).mkdir(parents=True, exist_ok=True)
        error = self._download_channels(request, opt_ml, region)
        if error:
            return self._finish(job, "Failed", "Failed", "Training job failed", error)
        self._write_config(request, opt_ml)
        program_dir = resolve_program_dir(self._clients("ecr", region),
                                          request["AlgorithmSpecification"]["TrainingImage"])
        self._progress(job, "Training", "Training image download completed. Training in "
                       "progress.")
        max_runtime = request["StoppingCondition"].get("MaxRuntimeInSeconds")
        log = self._log(job)
        metrics = MetricParser(request["AlgorithmSpecification"].get("MetricDefinitions") or [],
                               job)
        program = Program(program_dir, "train", opt_ml, {
            **(request.get("Environment") or {}),
            "TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job.arn})
        exit_code = self._run_program(job, program, log, max_runtime, metrics.parse)
        if job.stop_reason:
            return self._finish_stopped(job, max_runtime)
        if exit_code != 0:
            failure_file = opt_ml / "output" / "failure"
            if failure_file.exists():
                reason = failure_file.read_text(errors="replace")[:FAILURE_REASON_LIMIT]
            else:
                reason = f"AlgorithmError: {log.tail()}, exit code: {exit_code}"
            return self._finish(job, "Failed", "Failed", "Training job failed", reason)
        self._progress(job, "Uploading", "Uploading generated training model")
        job.model_artifacts = self._upload_outputs(job, opt_ml)
        self._finish(job, "Completed", "Completed", "Training job completed")

    def _download_channels(self, request: dict, opt_ml: Path, region: str) -> str | None:
        s3 = self._clients("s3", region)
        for channel in request.get("InputDataConfig") or []:
            source = channel["DataSource"]["S3DataSource"]
            uri = source["S3Uri"]
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                return (f"ClientError: the local backend supports S3DataType S3Prefix only, "
                        f"channel '{channel['ChannelName']}' uses {source['S3DataType']}")
            try:
                target = channel_folder(opt_ml / "input" / "data", channel["ChannelName"])
                target.mkdir(parents=True, exist_ok=True)
                found = download_prefix(s3, uri, target)
            except UnsafePath as error:
                return client_error(f"Data download failed for channel "
                                    f"'{channel['ChannelName']}' ({uri})", error)
            except Exception as error:  # noqa: BLE001 - e.g. NoSuchBucket
                return f"ClientError: Data download failed for {uri}: {error}"
            if not found:
                bucket, _ = parse_uri(uri)
                return (f'ClientError: No S3 objects found under S3 URL "{uri}" given in input '
                        "data source. Please ensure that the bucket exists in the selected "
                        "region, that objects exist under that S3 prefix, and that the role "
                        f'"{request["RoleArn"]}" has "s3:ListBucket" permissions on bucket '
                        f'"{bucket}".')
        return None

    @staticmethod
    def _write_config(request: dict, opt_ml: Path):
        config = opt_ml / "input" / "config"
        (config / "hyperparameters.json").write_text(json.dumps(request.get("HyperParameters")
                                                                or {}))
        channels = {
            c["ChannelName"]: {
                "ContentType": c.get("ContentType", ""),
                "TrainingInputMode": request["AlgorithmSpecification"].get("TrainingInputMode",
                                                                           "File"),
                "S3DistributionType": c["DataSource"]["S3DataSource"].get(
                    "S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": c.get("RecordWrapperType", "None"),
            } for c in request.get("InputDataConfig") or []}
        (config / "inputdataconfig.json").write_text(json.dumps(channels))
        (config / "resourceconfig.json").write_text(json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"}))

    def _upload_outputs(self, job: TrainingJob, opt_ml: Path) -> str:
        """/opt/ml/model as model.tar.gz, and /opt/ml/output/data as output.tar.gz when there is
        some, under <S3OutputPath>/<job>/output/."""
        output = f"{job.request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job.name}/output"
        s3 = self._clients("s3", job.region)
        if any((opt_ml / "output" / "data").iterdir()):
            upload_archive(s3, opt_ml / "output" / "data", f"{output}/output.tar.gz", opt_ml)
        return upload_archive(s3, opt_ml / "model", f"{output}/model.tar.gz", opt_ml)


class MetricParser:
    """SageMaker's MetricDefinitions: the first group of the last line each regex matches."""

    def __init__(self, definitions: list, job: "TrainingJob"):
        self._metrics = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
        self._job = job

    def parse(self, line: str):
        for name, regex in self._metrics:
            match = regex.search(line)
            if match:
                try:
                    self._job.metrics[name] = (float(match.group(1)), now())
                except (IndexError, ValueError):
                    pass  # a regex without a numeric first group reports nothing, as on AWS
