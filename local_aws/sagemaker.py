"""SageMaker training jobs, run as local processes under SageMaker's container contract.

This is the one place where the training-job life cycle lives: boto3 calls from a notebook
(through the HTTP API in `api.py`) and Task states in a workflow (through
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
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .images import ImageNotFound, resolve_program_dir
from .programs import Program
from .s3files import UnsafePath, download_prefix, parse_uri, upload_archive

# SageMaker's name rule for jobs, models, endpoint configurations and endpoints.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FAILURE_REASON_LIMIT = 1024
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
REQUIRED_FIELDS = ("TrainingJobName", "AlgorithmSpecification", "RoleArn", "OutputDataConfig",
                   "ResourceConfig", "StoppingCondition")


class SageMakerError(Exception):
    """An error the SageMaker API returns: AWS's error code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def validation_error(message: str) -> SageMakerError:
    return SageMakerError("ValidationException", message)


def check_name(name, field_name: str):
    """Raise AWS's ValidationException for a name longer than 63 characters or off the pattern."""
    problem = None
    if not isinstance(name, str) or len(name) > 63:
        problem = "Member must have length less than or equal to 63"
    elif not NAME_PATTERN.match(name):
        problem = ("Member must satisfy regular expression pattern: "
                   + NAME_PATTERN.pattern.strip("^$"))
    if problem:
        raise validation_error(f"1 validation error detected: Value '{name}' at '{field_name}' "
                               f"failed to satisfy constraint: {problem}")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class TrainingJob:
    request: dict
    arn: str
    region: str
    status: str = "InProgress"
    secondary_status: str = "Starting"
    creation_time: dt.datetime = field(default_factory=now)
    last_modified_time: dt.datetime = field(default_factory=now)
    training_start_time: dt.datetime | None = None
    training_end_time: dt.datetime | None = None
    failure_reason: str | None = None
    model_artifacts: str | None = None
    transitions: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    log_stream: str | None = None
    stop_reason: str | None = None  # "user" or "max-runtime" once a stop was asked for
    program: Program | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        return self.request["TrainingJobName"]

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
        if self.training_start_time:
            out["TrainingStartTime"] = self.training_start_time
        if self.training_end_time:
            out["TrainingEndTime"] = self.training_end_time
            seconds = int((self.training_end_time - self.training_start_time).total_seconds())
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
        if self.training_end_time:
            summary["TrainingEndTime"] = self.training_end_time
        return summary


class LocalSageMaker:
    """Training jobs of one local AWS, keyed by (region, name) like AWS's per-region namespace."""

    def __init__(self, clients, account_id: str, work_root: Path, max_parallel_jobs: int,
                 stop_grace_seconds: float = 10.0):
        self._clients = clients  # clients(service, region) -> boto3 client of this local AWS
        self.account_id = account_id
        self._work_root = Path(work_root)
        self._jobs: dict[tuple[str, str], TrainingJob] = {}
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_parallel_jobs)
        self.max_parallel_jobs = max_parallel_jobs
        self._stop_grace = stop_grace_seconds

    # ---- API operations --------------------------------------------------------------------

    def create_training_job(self, request: dict, region: str) -> dict:
        self._validate_create(request, region)
        name = request["TrainingJobName"]
        arn = f"arn:aws:sagemaker:{region}:{self.account_id}:training-job/{name.lower()}"
        with self._lock:
            existing = self._jobs.get((region, name))
            if existing:  # AWS answers a ValidationException here, not ResourceInUse
                raise validation_error(
                    "Training job names must be unique within an AWS account and region, and a "
                    f"training job with this name already exists ({existing.arn})")
            job = TrainingJob(request=request, arn=arn, region=region)
            self._transition(job, "Starting", "Preparing the instances for training")
            self._jobs[(region, name)] = job
        threading.Thread(target=self._run, args=(job,), name=f"training-{name}",
                         daemon=True).start()
        return {"TrainingJobArn": arn}

    def describe_training_job(self, name: str, region: str) -> dict:
        return self._job(name, region).describe()

    def list_training_jobs(self, request: dict, region: str) -> dict:
        jobs = [job for (job_region, _), job in list(self._jobs.items()) if job_region == region]
        contains = request.get("NameContains")
        status = request.get("StatusEquals")
        jobs = [job for job in jobs
                if (not contains or contains.lower() in job.name.lower())
                and (not status or job.status == status)]
        reverse = request.get("SortOrder", "Ascending") == "Descending"
        sort_key = request.get("SortBy", "CreationTime")
        key = {"Name": lambda j: j.name, "Status": lambda j: j.status}.get(
            sort_key, lambda j: j.creation_time)
        jobs.sort(key=key, reverse=reverse)
        start = int(request.get("NextToken") or 0)
        limit = int(request.get("MaxResults") or 100)
        page = jobs[start:start + limit]
        out = {"TrainingJobSummaries": [job.summary() for job in page]}
        if start + limit < len(jobs):
            out["NextToken"] = str(start + limit)
        return out

    def stop_training_job(self, name: str, region: str) -> dict:
        job = self._job(name, region)
        with self._lock:
            if job.status != "InProgress":
                raise validation_error(
                    f"The request was rejected because the training job is in status {job.status}.")
            job.stop_reason = "user"
            job.status = "Stopping"
            self._transition(job, "Stopping", "Stopping the training job")
        if job.program:
            job.program.terminate(self._stop_grace)
        return {}

    def wait(self, name: str, region: str, timeout: float | None = None) -> bool:
        """Block until the job ends (True) or the timeout passes (False)."""
        return self._job(name, region).done.wait(timeout)

    def shutdown(self):
        """Stop every running program: the server is going away."""
        for job in list(self._jobs.values()):
            if not job.done.is_set():
                job.stop_reason = job.stop_reason or "user"
                if job.program:
                    job.program.kill()

    def running_programs(self) -> int:
        return sum(1 for job in list(self._jobs.values())
                   if job.program and job.program.running())

    # ---- validation ------------------------------------------------------------------------

    def _job(self, name: str, region: str) -> TrainingJob:
        job = self._jobs.get((region, name))
        if job is None:
            raise validation_error(f"Requested resource not found: training job '{name}' does "
                                   "not exist.")
        return job

    def _validate_create(self, request: dict, region: str):
        missing = [f for f in REQUIRED_FIELDS if not request.get(f)]
        if missing:
            raise validation_error(f"{len(missing)} validation error(s) detected: "
                                   + "; ".join(f"Value null at '{_camel(f)}' failed to satisfy "
                                               "constraint: Member must not be null"
                                               for f in missing))
        check_name(request["TrainingJobName"], "trainingJobName")
        hyperparameters = request.get("HyperParameters") or {}
        bad = [k for k, v in hyperparameters.items() if not isinstance(v, str)]
        if bad:
            raise validation_error(
                "Hyperparameter values must be strings; not strings: " + ", ".join(sorted(bad)))
        for channel in request.get("InputDataConfig") or []:
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

    def _validate_role(self, role_arn: str, region: str):
        cannot_assume = validation_error(
            f"Could not assume role {role_arn}. Please ensure that the role exists and allows "
            "principal 'sagemaker.amazonaws.com' to assume the role.")
        match = re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:.*/)?([\w+=,.@-]+)$", role_arn)
        if not match:
            raise cannot_assume
        try:
            role = self._clients("iam", region).get_role(RoleName=match.group(1))["Role"]
        except Exception:  # noqa: BLE001 - any lookup failure means the role cannot be assumed
            raise cannot_assume from None
        trust = role.get("AssumeRolePolicyDocument") or {}
        if isinstance(trust, str):
            trust = json.loads(trust)
        if "sagemaker.amazonaws.com" not in json.dumps(trust):
            raise cannot_assume

    # ---- the job's life cycle --------------------------------------------------------------

    def _transition(self, job: TrainingJob, secondary: str, message: str):
        stamp = now()
        if job.transitions and "EndTime" not in job.transitions[-1]:
            job.transitions[-1]["EndTime"] = stamp
        job.transitions.append({"Status": secondary, "StartTime": stamp, "StatusMessage": message})
        job.secondary_status = secondary
        job.last_modified_time = stamp

    def _finish(self, job: TrainingJob, status: str, secondary: str, message: str,
                failure_reason: str | None = None):
        with self._lock:
            self._transition(job, secondary, message)
            job.transitions[-1]["EndTime"] = job.last_modified_time
            job.status = status
            job.failure_reason = failure_reason[:FAILURE_REASON_LIMIT] if failure_reason else None
            if job.training_start_time is None:
                job.training_start_time = job.last_modified_time
            job.training_end_time = job.last_modified_time
        job.done.set()

    def _run(self, job: TrainingJob):
        workdir = None
        try:
            if not self._slots.acquire(blocking=False):
                with self._lock:
                    self._transition(job, "Starting", "Waiting for a free local training slot "
                                     f"({self.max_parallel_jobs} jobs run at once)")
                self._slots.acquire()
            try:
                if job.stop_reason:
                    return self._finish(job, "Stopped", "Stopped", "Training job stopped")
                workdir = Path(tempfile.mkdtemp(prefix=f"{job.name}-", dir=self._work_root))
                self._train(job, workdir)
            finally:
                self._slots.release()
        except Exception as error:  # noqa: BLE001 - any local fault must end the job, not hang it
            self._finish(job, "Failed", "Failed", "Training job failed",
                         f"InternalServerError: the local backend failed: {error}")
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def _train(self, job: TrainingJob, opt_ml: Path):
        request, region = job.request, job.region
        with self._lock:
            job.training_start_time = now()
            self._transition(job, "Downloading", "Downloading input data")
        for folder in ("input/config", "input/data", "model", "output/data", "code"):
            (opt_ml / folder).mkdir(parents=True, exist_ok=True)
        error = self._download_channels(request, opt_ml, region)
        if error:
            return self._finish(job, "Failed", "Failed", "Training job failed", error)
        self._write_config(request, opt_ml)
        program_dir = resolve_program_dir(self._clients("ecr", region),
                                          request["AlgorithmSpecification"]["TrainingImage"])
        with self._lock:
            self._transition(job, "Training", "Training image download completed. Training in "
                             "progress.")
        exit_code, tail = self._run_program(job, program_dir, opt_ml)
        if job.stop_reason == "max-runtime":
            return self._finish(job, "Stopped", "MaxRuntimeExceeded",
                                "Training job stopped: MaxRuntimeInSeconds "
                                f"({request['StoppingCondition'].get('MaxRuntimeInSeconds')} s) "
                                "exceeded")
        if job.stop_reason == "user":
            return self._finish(job, "Stopped", "Stopped", "Training job stopped")
        if exit_code != 0:
            failure_file = opt_ml / "output" / "failure"
            if failure_file.exists():
                reason = failure_file.read_text(errors="replace")[:FAILURE_REASON_LIMIT]
            else:
                reason = f"AlgorithmError: {tail}, exit code: {exit_code}"
            return self._finish(job, "Failed", "Failed", "Training job failed", reason)
        with self._lock:
            self._transition(job, "Uploading", "Uploading generated training model")
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
            target = opt_ml / "input" / "data" / channel["ChannelName"]
            target.mkdir(parents=True, exist_ok=True)
            try:
                found = download_prefix(s3, uri, target)
            except UnsafePath as error:
                return (f"ClientError: Data download failed for channel "
                        f"'{channel['ChannelName']}' ({uri}): {error}.")
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

    def _run_program(self, job: TrainingJob, program_dir: Path, opt_ml: Path):
        """Run `train`, stream its output to CloudWatch Logs, enforce MaxRuntimeInSeconds."""
        log = CloudWatchLog(self._clients("logs", job.region), TRAINING_LOG_GROUP,
                            f"{job.name}/algo-1-{int(time.time())}")
        metrics = MetricParser(
            job.request["AlgorithmSpecification"].get("MetricDefinitions") or [], job)
        job.log_stream = log.stream
        job.program = Program(program_dir, "train", opt_ml, {
            **(job.request.get("Environment") or {}),
            "TRAINING_JOB_NAME": job.name, "TRAINING_JOB_ARN": job.arn})
        if job.stop_reason:  # stopped while the process was starting
            job.program.terminate(self._stop_grace)
        max_runtime = job.request["StoppingCondition"].get("MaxRuntimeInSeconds")
        timer = None
        if max_runtime:
            timer = threading.Timer(float(max_runtime), self._max_runtime_exceeded, args=(job,))
            timer.daemon = True
            timer.start()
        try:
            for line in job.program.lines():
                # The job's directory stands in for /opt/ml: the log says /opt/ml, as on AWS,
                # and shows no path of this machine.
                line = line.replace(str(opt_ml), "/opt/ml")
                log.add(line)
                metrics.parse(line)
            exit_code = job.program.wait()
        finally:
            if timer:
                timer.cancel()
            log.flush()
        return exit_code, log.tail()

    def _max_runtime_exceeded(self, job: TrainingJob):
        if job.program and job.program.running() and not job.stop_reason:
            job.stop_reason = "max-runtime"
            job.program.terminate(self._stop_grace)

    def _upload_outputs(self, job: TrainingJob, opt_ml: Path) -> str:
        """/opt/ml/model as model.tar.gz, and /opt/ml/output/data as output.tar.gz when there is
        some, under <S3OutputPath>/<job>/output/."""
        output = f"{job.request['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job.name}/output"
        s3 = self._clients("s3", job.region)
        if any((opt_ml / "output" / "data").iterdir()):
            upload_archive(s3, opt_ml / "output" / "data", f"{output}/output.tar.gz", opt_ml)
        return upload_archive(s3, opt_ml / "model", f"{output}/model.tar.gz", opt_ml)


class CloudWatchLog:
    """Lines written as CloudWatch Logs events of one stream, in batches."""

    FLUSH_LINES, FLUSH_SECONDS, TAIL_LINES = 100, 0.25, 5

    def __init__(self, logs_client, group: str, stream: str):
        self._logs, self.group, self.stream = logs_client, group, stream
        self._pending: list[dict] = []
        self._last_flush = time.monotonic()
        self._tail: list[str] = []
        self._lock = threading.Lock()
        try:
            self._logs.create_log_group(logGroupName=group)
        except self._logs.exceptions.ResourceAlreadyExistsException:
            pass
        self._logs.create_log_stream(logGroupName=group, logStreamName=stream)

    def add(self, line: str):
        with self._lock:
            self._pending.append({"timestamp": int(time.time() * 1000), "message": line})
            self._tail = (self._tail + [line])[-self.TAIL_LINES:]
            due = (len(self._pending) >= self.FLUSH_LINES
                   or time.monotonic() - self._last_flush >= self.FLUSH_SECONDS)
        if due:
            self.flush()

    def flush(self):
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
        if pending:
            self._logs.put_log_events(logGroupName=self.group, logStreamName=self.stream,
                                      logEvents=pending)

    def tail(self) -> str:
        return " | ".join(self._tail)[-FAILURE_REASON_LIMIT:]

    def follow(self, lines):
        """Copy a program's output lines here until it closes (run in a thread)."""
        for line in lines:
            self.add(line)
        self.flush()


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


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]
