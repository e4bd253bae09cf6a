"""What SageMaker's job kinds (training, batch transform, processing) share, in one place.

Each kind lives in its own module (sagemaker.py: training, transform.py, processing.py) as a
subclass of `JobKind`, which holds the life cycle every kind has on AWS:
- Create validates the request (name rule, required fields, the role), refuses a duplicate name
  with a ValidationException as AWS does, stores the job `InProgress` and runs it in a thread;
  Describe/List/Stop answer from the same store, keyed by (region, name) like AWS's per-region
  namespace.
- Status: InProgress -> Completed | Failed | Stopped (Stopping in between for a stop), with
  timestamps and the status transitions a kind may show (training's SecondaryStatus).
- The jobs of all kinds share one local limit (`JobSlots`): at most N programs run at once; a job
  waits `InProgress` for a free slot.
- A job's program writes to CloudWatch Logs (`CloudWatchLog`), group /aws/sagemaker/<Kind>Jobs.
- MaxRuntimeInSeconds and StopXJob end the program with SIGTERM, then SIGKILL after a grace time.
- S3 keys become paths only through s3files.contained_path (see s3files.py).
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

from .programs import Program

# SageMaker's name rule for jobs, models, endpoint configurations and endpoints.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
FAILURE_REASON_LIMIT = 1024
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")


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


def camel(name: str) -> str:
    """An API member's name as AWS's validation messages spell it: TrainingJobName ->
    trainingJobName."""
    return name[0].lower() + name[1:]


def require(request: dict, fields: tuple[str, ...]):
    """AWS's ValidationException for required members that are missing."""
    missing = [f for f in fields if not request.get(f)]
    if missing:
        raise validation_error(f"{len(missing)} validation error(s) detected: "
                               + "; ".join(f"Value null at '{camel(f)}' failed to satisfy "
                                           "constraint: Member must not be null"
                                           for f in missing))


class JobSlots:
    """The local limit on SageMaker jobs running at once (all kinds together): the machine's
    cores, not AWS's account quotas."""

    def __init__(self, limit: int):
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)

    def try_acquire(self) -> bool:
        return self._semaphore.acquire(blocking=False)

    def acquire(self):
        self._semaphore.acquire()

    def release(self):
        self._semaphore.release()


@dataclass
class Job:
    """One job of any kind. `start_time`/`end_time` are what each kind calls
    TrainingStartTime, TransformStartTime, ProcessingStartTime..."""
    request: dict
    arn: str
    region: str
    name: str
    status: str = "InProgress"
    secondary_status: str = "Starting"
    creation_time: dt.datetime = field(default_factory=now)
    last_modified_time: dt.datetime = field(default_factory=now)
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    failure_reason: str | None = None
    transitions: list = field(default_factory=list)
    log_stream: str | None = None
    stop_reason: str | None = None  # "user" or "max-runtime" once a stop was asked for
    program: Program | None = None
    done: threading.Event = field(default_factory=threading.Event)


class JobKind:
    """The life cycle of one kind of SageMaker job. A subclass names the kind and implements
    `_validate` (beyond the shared checks), `_execute` (the work, in the job's folder) and
    `describe`/`summary` (the kind's response shapes)."""

    kind = "job"                  # as AWS's messages name it: "training job"
    name_field = "JobName"        # TrainingJobName
    arn_resource = "job"          # training-job
    log_group = "/aws/sagemaker/Jobs"
    required_fields: tuple[str, ...] = ()
    job_class = Job

    def __init__(self, clients, account_id: str, work_root: Path, slots: JobSlots,
                 stop_grace_seconds: float = 10.0):
        self._clients = clients  # clients(service, region) -> boto3 client of this local AWS
        self.account_id = account_id
        self._work_root = Path(work_root)
        self._jobs: dict[tuple[str, str], Job] = {}
        self._lock = threading.Lock()
        self.slots = slots
        self._stop_grace = stop_grace_seconds

    # ---- the operations every kind has -----------------------------------------------------

    def create(self, request: dict, region: str) -> Job:
        require(request, self.required_fields)
        name = request[self.name_field]
        check_name(name, camel(self.name_field))
        self._validate(request, region)
        arn = f"arn:aws:sagemaker:{region}:{self.account_id}:{self.arn_resource}/{name.lower()}"
        with self._lock:
            existing = self._jobs.get((region, name))
            if existing:  # AWS answers a ValidationException here, not ResourceInUse
                raise validation_error(self._duplicate_message(existing))
            job = self.job_class(request=request, arn=arn, region=region, name=name)
            self._transition(job, "Starting", f"Preparing the instances for the {self.kind}")
            self._jobs[(region, name)] = job
        threading.Thread(target=self._run, args=(job,), daemon=True,
                         name=f"{self.arn_resource}-{name}").start()
        return job

    def get(self, name: str, region: str) -> Job:
        job = self._jobs.get((region, name))
        if job is None:
            raise validation_error(f"Requested resource not found: {self.kind} '{name}' does "
                                   "not exist.")
        return job

    def listed(self, request: dict, region: str, summaries_key: str) -> dict:
        """A List<Kind>Jobs response: NameContains, StatusEquals, SortBy, SortOrder, paging."""
        jobs = [job for (job_region, _), job in list(self._jobs.items()) if job_region == region]
        contains = request.get("NameContains")
        status = request.get("StatusEquals")
        jobs = [job for job in jobs
                if (not contains or contains.lower() in job.name.lower())
                and (not status or job.status == status)]
        reverse = request.get("SortOrder", "Ascending") == "Descending"
        key = {"Name": lambda j: j.name, "Status": lambda j: j.status}.get(
            request.get("SortBy", "CreationTime"), lambda j: j.creation_time)
        jobs.sort(key=key, reverse=reverse)
        start = int(request.get("NextToken") or 0)
        limit = int(request.get("MaxResults") or 100)
        out = {summaries_key: [self.summary(job) for job in jobs[start:start + limit]]}
        if start + limit < len(jobs):
            out["NextToken"] = str(start + limit)
        return out

    def stop(self, name: str, region: str):
        job = self.get(name, region)
        with self._lock:
            if job.status != "InProgress":
                raise validation_error(f"The request was rejected because the {self.kind} is in "
                                       f"status {job.status}.")
            job.stop_reason = "user"
            job.status = "Stopping"
            self._transition(job, "Stopping", f"Stopping the {self.kind}")
        if job.program:
            job.program.terminate(self._stop_grace)

    def wait(self, name: str, region: str, timeout: float | None = None) -> bool:
        """Block until the job ends (True) or the timeout passes (False)."""
        return self.get(name, region).done.wait(timeout)

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

    # ---- what a kind implements ------------------------------------------------------------

    def describe(self, job: Job) -> dict:
        raise NotImplementedError

    def summary(self, job: Job) -> dict:
        raise NotImplementedError

    def _validate(self, request: dict, region: str):
        """Kind-specific checks, after the required fields and the name."""

    def _execute(self, job: Job, workdir: Path):
        """Do the job in `workdir` (a fresh folder, removed afterwards); end it with `_finish`."""
        raise NotImplementedError

    def _duplicate_message(self, existing: Job) -> str:
        return (f"{self.kind.capitalize()} names must be unique within an AWS account and "
                f"region, and a {self.kind} with this name already exists ({existing.arn})")

    # ---- shared checks ---------------------------------------------------------------------

    def _validate_role(self, role_arn: str, region: str):
        """The role exists and trusts sagemaker.amazonaws.com, or AWS's ValidationException."""
        cannot_assume = validation_error(
            f"Could not assume role {role_arn}. Please ensure that the role exists and allows "
            "principal 'sagemaker.amazonaws.com' to assume the role.")
        match = re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:.*/)?([\w+=,.@-]+)$",
                         role_arn or "")
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

    # ---- the life cycle --------------------------------------------------------------------

    def _transition(self, job: Job, secondary: str, message: str):
        stamp = now()
        if job.transitions and "EndTime" not in job.transitions[-1]:
            job.transitions[-1]["EndTime"] = stamp
        job.transitions.append({"Status": secondary, "StartTime": stamp, "StatusMessage": message})
        job.secondary_status = secondary
        job.last_modified_time = stamp

    def _progress(self, job: Job, secondary: str, message: str):
        with self._lock:
            self._transition(job, secondary, message)

    def _started(self, job: Job):
        with self._lock:
            job.start_time = now()

    def _finish(self, job: Job, status: str, secondary: str, message: str,
                failure_reason: str | None = None):
        with self._lock:
            self._transition(job, secondary, message)
            job.transitions[-1]["EndTime"] = job.last_modified_time
            job.status = status
            job.failure_reason = failure_reason[:FAILURE_REASON_LIMIT] if failure_reason else None
            if job.start_time is None:
                job.start_time = job.last_modified_time
            job.end_time = job.last_modified_time
        job.done.set()

    def _finish_stopped(self, job: Job, max_runtime=None):
        """End a job whose stop was asked for (by StopXJob or MaxRuntimeInSeconds)."""
        if job.stop_reason == "max-runtime":
            return self._finish(job, "Stopped", "MaxRuntimeExceeded",
                                f"{self.kind.capitalize()} stopped: MaxRuntimeInSeconds "
                                f"({max_runtime} s) exceeded")
        return self._finish(job, "Stopped", "Stopped", f"{self.kind.capitalize()} stopped")

    def _run(self, job: Job):
        workdir = None
        try:
            if not self.slots.try_acquire():
                # "training slot", "transform slot"...: the slots are shared by all kinds
                self._progress(job, "Starting", f"Waiting for a free local {self.kind.split()[0]}"
                               f" slot ({self.slots.limit} SageMaker jobs run at once)")
                self.slots.acquire()
            try:
                if job.stop_reason:
                    return self._finish_stopped(job)
                workdir = Path(tempfile.mkdtemp(prefix=f"{job.name}-", dir=self._work_root))
                self._execute(job, workdir)
            finally:
                self.slots.release()
        except Exception as error:  # noqa: BLE001 - any local fault must end the job, not hang it
            self._finish(job, "Failed", "Failed", f"{self.kind.capitalize()} failed",
                         f"InternalServerError: the local backend failed: {error}")
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def _run_program(self, job: Job, program: Program, log: CloudWatchLog,
                     max_runtime_seconds=None, on_line=None) -> int:
        """Follow a started program: its lines to the job's log (and `on_line`), its exit code
        back; MaxRuntimeInSeconds stops it."""
        job.program = program
        job.log_stream = log.stream
        if job.stop_reason:  # stopped while the process was starting
            program.terminate(self._stop_grace)
        timer = None
        if max_runtime_seconds:
            timer = threading.Timer(float(max_runtime_seconds), self._max_runtime_exceeded,
                                    args=(job,))
            timer.daemon = True
            timer.start()
        try:
            for line in program.lines():
                # The job's folder stands in for /opt/ml: the log says /opt/ml, as on AWS, and
                # shows no path of this machine.
                line = line.replace(str(program.opt_ml), "/opt/ml")
                log.add(line)
                if on_line:
                    on_line(line)
            return program.wait()
        finally:
            if timer:
                timer.cancel()
            log.flush()

    def _max_runtime_exceeded(self, job: Job):
        if job.program and job.program.running() and not job.stop_reason:
            job.stop_reason = "max-runtime"
            job.program.terminate(self._stop_grace)

    def _log(self, job: Job, stream_suffix: str = "algo-1") -> CloudWatchLog:
        return CloudWatchLog(self._clients("logs", job.region), self.log_group,
                             f"{job.name}/{stream_suffix}-{int(time.time())}")


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
