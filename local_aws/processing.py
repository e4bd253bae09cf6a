"""SageMaker processing jobs: a program of the job's image, run over inputs downloaded from S3,
its outputs uploaded to S3 when it succeeds.

As AWS documents it (API reference: CreateProcessingJob, ProcessingInput, ProcessingS3Input,
ProcessingS3Output, AppSpecification, DescribeProcessingJob; developer guide: "Build Your Own
Processing Container", "Save and Access Metadata Information About Your Processing Job"):
- each ProcessingInput's S3Input (S3Prefix, File mode) is downloaded into its LocalPath before the
  program starts; each ProcessingOutput's LocalPath exists when it starts and its files are
  uploaded under the output's S3Uri when it exits 0 (Completed), not when it fails;
- the container runs ContainerEntrypoint followed by ContainerArguments (with no entrypoint, the
  arguments are the command, as `docker run IMAGE <arguments>` runs them), with Environment;
- exit 0 = Completed, anything else = Failed ("AlgorithmError: ..., exit code: N"); the first
  1 KB of /opt/ml/output/message becomes ExitMessage whatever the outcome;
- StoppingCondition.MaxRuntimeInSeconds and StopProcessingJob stop it (Stopped);
- its output goes to CloudWatch Logs, group /aws/sagemaker/ProcessingJobs;
- /opt/ml/config/processingjobconfig.json (the job's request) and resourceconfig.json are written.

Paths, locally: there is no container, so /opt/ml is a folder of the job, named by the OPT_ML
environment variable (as for training). A LocalPath /opt/ml/processing/<x> is
$OPT_ML/processing/<x>, and so are ContainerEntrypoint and ContainerArguments values that start
with /opt/ml/ (whole arguments, or after `=`): the local backend rewrites them, so
`--model /opt/ml/processing/model` reaches the program as the job's own folder. A script finds its
paths as `Path(os.environ.get("OPT_ML", "/opt/ml")) / "processing" / ...`, which is right both
locally and in the container. LocalPath must be under /opt/ml/processing/ (the local backend maps
nothing else). S3UploadMode Continuous is treated as EndOfJob.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from .images import ImageNotFound, program_environment, resolve_program_dir
from .jobs import FAILURE_REASON_LIMIT, Job, JobKind, validation_error
from .programs import Program
from .s3files import UnsafePath, contained_path, download_prefix, upload_folder

PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
CONTAINER_ROOT = "/opt/ml/"
PROCESSING_ROOT = "/opt/ml/processing/"
_CONTAINER_PATH_ARGUMENT = re.compile(r"(^|=)/opt/ml/")


def local_path(opt_ml: Path, container_path: str) -> Path:
    """Where a container path under /opt/ml/ is in the job's folder (refusing `..`)."""
    return contained_path(opt_ml, container_path[len(CONTAINER_ROOT):].rstrip("/"),
                          f"The path '{container_path}'")


def local_argument(opt_ml: Path, argument: str) -> str:
    """An argument with its /opt/ml/... path (whole, or after `=`) made the job's folder."""
    match = _CONTAINER_PATH_ARGUMENT.search(argument)
    if not match:
        return argument
    head, path = argument[:match.end(1)], argument[match.end(1):]
    return head + str(local_path(opt_ml, path))


@dataclass
class ProcessingJob(Job):
    exit_message: str | None = None  # the first 1 KB of /opt/ml/output/message


class LocalProcessing(JobKind):
    kind = "processing job"
    name_field = "ProcessingJobName"
    arn_resource = "processing-job"
    log_group = PROCESSING_LOG_GROUP
    required_fields = ("ProcessingJobName", "ProcessingResources", "AppSpecification",
                       "RoleArn")
    job_class = ProcessingJob

    def operations(self) -> dict:
        """The API operations of this kind: {operation: handler(request, region)}."""
        return {"CreateProcessingJob": self.create_processing_job,
                "DescribeProcessingJob": self.describe_processing_job,
                "ListProcessingJobs": self.list_processing_jobs,
                "StopProcessingJob": self.stop_processing_job}

    def create_processing_job(self, request: dict, region: str) -> dict:
        return {"ProcessingJobArn": self.create(request, region).arn}

    def describe_processing_job(self, request: dict, region: str) -> dict:
        return self.describe(self.get(request.get("ProcessingJobName", ""), region))

    def list_processing_jobs(self, request: dict, region: str) -> dict:
        return self.listed(request, region, "ProcessingJobSummaries")

    def stop_processing_job(self, request: dict, region: str) -> dict:
        self.stop(request.get("ProcessingJobName", ""), region)
        return {}

    def describe(self, job: Job) -> dict:
        request = job.request
        out = {"ProcessingJobName": job.name, "ProcessingJobArn": job.arn,
               "ProcessingJobStatus": job.status,
               "ProcessingInputs": request.get("ProcessingInputs", []),
               "ProcessingResources": request["ProcessingResources"],
               "AppSpecification": request["AppSpecification"], "RoleArn": request["RoleArn"],
               "CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time}
        for key in ("ProcessingOutputConfig", "StoppingCondition", "Environment",
                    "NetworkConfig", "ExperimentConfig"):
            if request.get(key):
                out[key] = request[key]
        return {**out, **self._outcome(job)}

    def summary(self, job: Job) -> dict:
        return {"ProcessingJobName": job.name, "ProcessingJobArn": job.arn,
                "ProcessingJobStatus": job.status, "CreationTime": job.creation_time,
                "LastModifiedTime": job.last_modified_time, **self._outcome(job)}

    @staticmethod
    def _outcome(job: Job) -> dict:
        out = {}
        if job.exit_message is not None:
            out["ExitMessage"] = job.exit_message
        if job.failure_reason:
            out["FailureReason"] = job.failure_reason
        if job.start_time:
            out["ProcessingStartTime"] = job.start_time
        if job.end_time:
            out["ProcessingEndTime"] = job.end_time
        return out

    # ---- validation ------------------------------------------------------------------------

    def _duplicate_message(self, existing: Job) -> str:
        return (f"Processing job names must be unique within an AWS account and region, and a "
                f"processing job with this name already exists ({existing.arn})")

    def _validate(self, request: dict, region: str):
        for item in request.get("ProcessingInputs") or []:
            source = item.get("S3Input")
            if not source:
                raise validation_error(f"ProcessingInput '{item.get('InputName')}': the local "
                                       "backend supports S3Input only (not DatasetDefinition).")
            if not str(source.get("S3Uri", "")).startswith("s3://"):
                raise validation_error(f"ProcessingInput '{item.get('InputName')}': S3Uri must "
                                       "be an s3:// URI.")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix" \
                    or source.get("S3InputMode", "File") != "File":
                raise validation_error(f"ProcessingInput '{item.get('InputName')}': the local "
                                       "backend supports S3DataType S3Prefix in File mode only.")
            self._check_local_path(source.get("LocalPath"), item.get("InputName"))
        for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            target = item.get("S3Output")
            if not target:
                raise validation_error(f"ProcessingOutput '{item.get('OutputName')}': the local "
                                       "backend supports S3Output only.")
            if not str(target.get("S3Uri", "")).startswith("s3://"):
                raise validation_error(f"ProcessingOutput '{item.get('OutputName')}': S3Uri "
                                       "must be an s3:// URI.")
            self._check_local_path(target.get("LocalPath"), item.get("OutputName"))
        app = request["AppSpecification"]
        if not (app.get("ContainerEntrypoint") or app.get("ContainerArguments")):
            raise validation_error("AppSpecification: a local image has no default entry point; "
                                   "give ContainerEntrypoint (or ContainerArguments, the "
                                   "command to run).")
        self._validate_role(request["RoleArn"], region)
        try:
            resolve_program_dir(self._clients("ecr", region), app.get("ImageUri", ""))
        except ImageNotFound as error:
            raise validation_error(str(error)) from None

    @staticmethod
    def _check_local_path(path, name):
        if not isinstance(path, str) or not path.startswith(PROCESSING_ROOT) \
                or len(path) <= len(PROCESSING_ROOT):
            raise validation_error(f"'{name}': LocalPath '{path}' must be a folder under "
                                   f"{PROCESSING_ROOT} (the local backend maps that folder "
                                   "into the job's).")

    # ---- the job's work --------------------------------------------------------------------

    def _execute(self, job: Job, opt_ml: Path):
        request, region = job.request, job.region
        self._started(job)
        s3 = self._clients("s3", region)
        try:
            for folder in ("config", "output", "processing"):
                (opt_ml / folder).mkdir(parents=True, exist_ok=True)
            for item in request.get("ProcessingInputs") or []:
                source = item["S3Input"]
                target = local_path(opt_ml, source["LocalPath"])
                target.mkdir(parents=True, exist_ok=True)
                if not download_prefix(s3, source["S3Uri"], target):
                    return self._fail(job, f"ClientError: No S3 objects found under S3 URL "
                                      f"\"{source['S3Uri']}\" given in input "
                                      f"'{item['InputName']}'.")
            outputs = [(item, local_path(opt_ml, item["S3Output"]["LocalPath"]))
                       for item in (request.get("ProcessingOutputConfig") or {}).get("Outputs")
                       or []]
            for _, folder in outputs:
                folder.mkdir(parents=True, exist_ok=True)
        except UnsafePath as error:
            return self._fail(job, f"ClientError: {error}.")
        except Exception as error:  # noqa: BLE001 - e.g. NoSuchBucket
            return self._fail(job, f"ClientError: Data download failed: {error}")
        (opt_ml / "config" / "processingjobconfig.json").write_text(json.dumps(request))
        (opt_ml / "config" / "resourceconfig.json").write_text(json.dumps(
            {"current_host": "algo-1", "hosts": ["algo-1"]}))
        app = request["AppSpecification"]
        program_dir = resolve_program_dir(self._clients("ecr", region), app["ImageUri"])
        try:
            command = self._command(app, program_dir, opt_ml)
        except (LookupError, UnsafePath) as error:
            return self._fail(job, f"ClientError: {error}")
        max_runtime = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        log = self._log(job)
        program = Program(program_dir, command, opt_ml, {
            **(request.get("Environment") or {}), "PROCESSING_JOB_NAME": job.name})
        exit_code = self._run_program(job, program, log, max_runtime)
        job.exit_message = self._exit_message(opt_ml)
        if job.stop_reason:
            return self._finish_stopped(job, max_runtime)
        if exit_code != 0:
            return self._fail(job, f"AlgorithmError: {log.tail()}, exit code: {exit_code}")
        try:
            for item, folder in outputs:
                upload_folder(s3, folder, item["S3Output"]["S3Uri"])
        except UnsafePath as error:
            return self._fail(job, f"ClientError: output '{item['OutputName']}': {error}.")
        self._finish(job, "Completed", "Completed", "Processing job completed")

    def _fail(self, job: Job, reason: str):
        self._finish(job, "Failed", "Failed", "Processing job failed", reason)

    @staticmethod
    def _exit_message(opt_ml: Path) -> str | None:
        message = opt_ml / "output" / "message"
        if not message.is_file():
            return None
        return message.read_bytes()[:FAILURE_REASON_LIMIT].decode("utf-8", errors="replace")

    @staticmethod
    def _command(app: dict, program_dir: Path, opt_ml: Path) -> list[str]:
        """ContainerEntrypoint + ContainerArguments, container paths made the job's, the program
        found as the image would find it: its own programs first, then PATH."""
        command = [local_argument(opt_ml, part) for part in
                   [*(app.get("ContainerEntrypoint") or []),
                    *(app.get("ContainerArguments") or [])]]
        program = command[0]
        if not Path(program).is_absolute():
            own = Path(program_dir) / program
            found = str(own) if own.is_file() else shutil.which(
                program, path=program_environment(program_dir, opt_ml)["PATH"])
            if not found:
                raise LookupError(f"the entry point '{program}' is neither a program of the "
                                  "image nor on its PATH")
            program = found
        return [program, *command[1:]]
