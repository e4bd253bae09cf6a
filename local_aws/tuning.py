"""SageMaker hyperparameter tuning jobs, run on the local training jobs.

A tuning job launches real training jobs through `LocalSageMaker`'s public operations
(create/describe/stop/wait), so they run, log and count against the local training-job limit like
any other. It follows AWS's documented behaviour (SageMaker API reference,
CreateHyperParameterTuningJob, DescribeHyperParameterTuningJob,
ListTrainingJobsForHyperParameterTuningJob; developer guide, "How hyperparameter tuning works"):

- Names: 1-32 characters (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`); its training jobs are named
  `<tuning job>-<three-digit number>-<8 hex digits>` and carry its ARN as `TuningJobArn`.
- Strategy `Grid`: categorical ranges only; one training job per combination of their values
  (MaxNumberOfTrainingJobs may be left out; if given it must equal the number of combinations).
- Strategy `Random`: each job draws every tuned hyperparameter at random from its range (integer,
  continuous, categorical; `Logarithmic` scaling draws log-uniformly), seeded by `RandomSeed`.
- Strategies `Bayesian` and `Hyperband` are not implemented locally: such a job runs a Random
  search instead, describes itself with Strategy `Random`, and is tagged
  `local-aws:strategy-note` saying so. Early stopping (`TrainingJobEarlyStoppingType: Auto`) is
  likewise not done locally, and tagged.
- At most MaxParallelTrainingJobs run at once, and no more than the local training-job limit
  (`TUTORIAL_LOCAL_MAX_TRAINING_JOBS`, the machine's cores by default): when MaxParallel exceeds
  it, the job is tagged `local-aws:parallel-note` with the number that really runs at once.
- The objective is read from each training job's FinalMetricDataList (the MetricDefinitions of
  the training job definition; the objective metric must be one of them). A training job that
  fails, is stopped, or reports no objective metric counts in ObjectiveStatusCounters.Failed; a
  failed job counts in TrainingJobStatusCounters.NonRetryableError. The tuning job goes on
  after a failed training job; it fails only when none of its training jobs reported the
  objective.
- BestTrainingJob: the completed job with the best objective (Maximize or Minimize), with its
  TunedHyperParameters and FinalHyperParameterTuningJobObjectiveMetric.
- StopHyperParameterTuningJob stops the running training jobs; the tuning job ends Stopped.
- ResourceLimits.MaxRuntimeInSeconds stops the tuning job when exceeded.
- One TrainingJobDefinition only (a `TrainingJobDefinitions` list is refused locally), no warm
  start, no Autotune: refused with a ValidationException that says so.
"""
from __future__ import annotations

import datetime as dt
import itertools
import math
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass, field

from .sagemaker import LocalSageMaker, SageMakerError, now, validation_error

TUNING_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
STRATEGIES = ("Bayesian", "Random", "Hyperband", "Grid")
RUN_AS_RANDOM = ("Bayesian", "Hyperband")
POLL_SECONDS = 0.05
# SageMaker adds the objective's name to the static hyperparameters of every training job a
# tuning job launches (developer guide, "Define hyperparameter ranges").
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"


@dataclass
class TrainingRun:
    """One training job a tuning job launched."""
    name: str
    tuned: dict
    creation_time: dt.datetime = field(default_factory=now)


@dataclass
class TuningJob:
    request: dict
    arn: str
    region: str
    strategy: str
    max_jobs: int
    parallel: int
    status: str = "InProgress"
    creation_time: dt.datetime = field(default_factory=now)
    last_modified_time: dt.datetime = field(default_factory=now)
    end_time: dt.datetime | None = None
    failure_reason: str | None = None
    runs: list = field(default_factory=list)
    stop_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def name(self) -> str:
        return self.request["HyperParameterTuningJobName"]

    @property
    def objective(self) -> dict:
        return self.request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]


class LocalTuning:
    """Hyperparameter tuning jobs of one local AWS, keyed by (region, name)."""

    def __init__(self, sagemaker: LocalSageMaker, tags=None):
        self._sagemaker = sagemaker
        self._tags = tags  # a local_aws.tags.TagStore, for the notes on what runs differently
        self._jobs: dict[tuple[str, str], TuningJob] = {}
        self._lock = threading.Lock()

    # ---- API operations --------------------------------------------------------------------

    def create_hyper_parameter_tuning_job(self, request: dict, region: str) -> dict:
        strategy, max_jobs, parallel, notes = self._validate(request)
        name = request["HyperParameterTuningJobName"]
        arn = (f"arn:aws:sagemaker:{region}:{self._sagemaker.account_id}:"
               f"hyper-parameter-tuning-job/{name.lower()}")
        with self._lock:
            if (region, name) in self._jobs:
                raise SageMakerError("ResourceInUse",
                                     f"Hyperparameter tuning job {name} already exists.")
            job = TuningJob(request=request, arn=arn, region=region, strategy=strategy,
                            max_jobs=max_jobs, parallel=parallel)
            self._jobs[(region, name)] = job
        if notes and self._tags is not None:
            self._tags.add_tags({"ResourceArn": arn, "Tags": [
                {"Key": key, "Value": value[:256]} for key, value in notes.items()]})
        threading.Thread(target=self._run, args=(job,), name=f"tuning-{name}",
                         daemon=True).start()
        return {"HyperParameterTuningJobArn": arn}

    def describe_hyper_parameter_tuning_job(self, request: dict, region: str) -> dict:
        job = self._job(request.get("HyperParameterTuningJobName", ""), region)
        summaries = self._summaries(job)
        config = dict(job.request["HyperParameterTuningJobConfig"], Strategy=job.strategy)
        out = {"HyperParameterTuningJobName": job.name, "HyperParameterTuningJobArn": job.arn,
               "HyperParameterTuningJobConfig": config,
               "TrainingJobDefinition": job.request["TrainingJobDefinition"],
               "HyperParameterTuningJobStatus": job.status,
               "CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time,
               **self._counters(summaries)}
        best = self._best(job, summaries)
        if best:
            out["BestTrainingJob"] = best
        if job.end_time:
            out["HyperParameterTuningEndTime"] = job.end_time
        if job.failure_reason:
            out["FailureReason"] = job.failure_reason
        return out

    def list_hyper_parameter_tuning_jobs(self, request: dict, region: str) -> dict:
        jobs = [job for (job_region, _), job in list(self._jobs.items()) if job_region == region]
        contains, status = request.get("NameContains"), request.get("StatusEquals")
        jobs = [job for job in jobs if (not contains or contains.lower() in job.name.lower())
                and (not status or job.status == status)]
        key = {"Name": lambda j: j.name, "Status": lambda j: j.status}.get(
            request.get("SortBy", "CreationTime"), lambda j: j.creation_time)
        jobs.sort(key=key, reverse=request.get("SortOrder", "Ascending") == "Descending")
        page, token = _page(jobs, request)
        out = {"HyperParameterTuningJobSummaries": [{
            "HyperParameterTuningJobName": job.name, "HyperParameterTuningJobArn": job.arn,
            "HyperParameterTuningJobStatus": job.status, "Strategy": job.strategy,
            "CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time,
            "ResourceLimits": job.request["HyperParameterTuningJobConfig"]["ResourceLimits"],
            **self._counters(self._summaries(job)),
            **({"HyperParameterTuningEndTime": job.end_time} if job.end_time else {}),
        } for job in page]}
        if token:
            out["NextToken"] = token
        return out

    def stop_hyper_parameter_tuning_job(self, request: dict, region: str) -> dict:
        job = self._job(request.get("HyperParameterTuningJobName", ""), region)
        with self._lock:
            if job.status != "InProgress":
                raise validation_error(f"The hyperparameter tuning job {job.name} is in status "
                                       f"{job.status} and cannot be stopped.")
            job.status, job.stop_requested = "Stopping", True
            job.last_modified_time = now()
        return {}

    def list_training_jobs_for_hyper_parameter_tuning_job(self, request: dict,
                                                          region: str) -> dict:
        job = self._job(request.get("HyperParameterTuningJobName", ""), region)
        summaries = self._summaries(job)
        status = request.get("StatusEquals")
        if status:
            summaries = [s for s in summaries if s["TrainingJobStatus"] == status]
        sort_by = request.get("SortBy", "Name")
        if sort_by == "FinalObjectiveMetricValue":  # jobs without the metric are not listed
            summaries = [s for s in summaries
                         if "FinalHyperParameterTuningJobObjectiveMetric" in s]
        key = {"Name": lambda s: s["TrainingJobName"], "CreationTime": lambda s: s["CreationTime"],
               "Status": lambda s: s["TrainingJobStatus"],
               "FinalObjectiveMetricValue":
                   lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]}[sort_by]
        summaries.sort(key=key, reverse=request.get("SortOrder", "Ascending") == "Descending")
        page, token = _page(summaries, request)
        return {"TrainingJobSummaries": page, **({"NextToken": token} if token else {})}

    def describe_training_job(self, request: dict, region: str) -> dict:
        """DescribeTrainingJob, with `TuningJobArn` for the jobs a tuning job launched."""
        name = request.get("TrainingJobName", "")
        described = self._sagemaker.describe_training_job(name, region)
        tuning = self._tuning_job_of(name, region)
        if tuning:
            described["TuningJobArn"] = tuning.arn
        return described

    def wait(self, name: str, region: str, timeout: float | None = None) -> bool:
        """Block until the tuning job ends (True) or the timeout passes (False)."""
        return self._job(name, region).done.wait(timeout)

    def operations(self) -> dict:
        """{SageMaker operation: handler(request, region)} for the HTTP front."""
        return {"CreateHyperParameterTuningJob": self.create_hyper_parameter_tuning_job,
                "DescribeHyperParameterTuningJob": self.describe_hyper_parameter_tuning_job,
                "ListHyperParameterTuningJobs": self.list_hyper_parameter_tuning_jobs,
                "StopHyperParameterTuningJob": self.stop_hyper_parameter_tuning_job,
                "ListTrainingJobsForHyperParameterTuningJob":
                    self.list_training_jobs_for_hyper_parameter_tuning_job,
                "DescribeTrainingJob": self.describe_training_job}

    # ---- validation --------------------------------------------------------------------------

    def _job(self, name: str, region: str) -> TuningJob:
        job = self._jobs.get((region, name))
        if job is None:
            raise SageMakerError("ResourceNotFound",
                                 f"Amazon SageMaker can't find a tuning job with name {name}")
        return job

    def _tuning_job_of(self, training_job: str, region: str) -> TuningJob | None:
        for (job_region, _), job in list(self._jobs.items()):
            if job_region == region and any(run.name == training_job for run in job.runs):
                return job
        return None

    def _validate(self, request: dict):
        name = request.get("HyperParameterTuningJobName")
        if not isinstance(name, str) or not TUNING_NAME_PATTERN.match(name):
            raise validation_error(
                f"1 validation error detected: Value '{name}' at 'hyperParameterTuningJobName' "
                "failed to satisfy constraint: Member must have length less than or equal to 32 "
                "and satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
        for unsupported in ("TrainingJobDefinitions", "WarmStartConfig", "Autotune"):
            if request.get(unsupported):
                raise validation_error(
                    f"The local AWS does not support {unsupported} in a hyperparameter tuning "
                    "job; give one TrainingJobDefinition (AWS supports it).")
        config = request.get("HyperParameterTuningJobConfig") or {}
        definition = request.get("TrainingJobDefinition")
        if not definition:
            raise validation_error("TrainingJobDefinition is required.")
        strategy = config.get("Strategy")
        if strategy not in STRATEGIES:
            raise validation_error(f"Value '{strategy}' at 'hyperParameterTuningJobConfig."
                                   "strategy' failed to satisfy constraint: Member must satisfy "
                                   f"enum value set: [{', '.join(STRATEGIES)}]")
        objective = config.get("HyperParameterTuningJobObjective") or {}
        if objective.get("Type") not in ("Maximize", "Minimize") or not objective.get(
                "MetricName"):
            raise validation_error("HyperParameterTuningJobObjective needs Type (Maximize or "
                                   "Minimize) and MetricName.")
        metrics = [d.get("Name") for d in
                   definition.get("AlgorithmSpecification", {}).get("MetricDefinitions") or []]
        if objective["MetricName"] not in metrics:
            raise validation_error(
                f"The objective metric {objective['MetricName']} is not defined in the "
                "training job definition's AlgorithmSpecification.MetricDefinitions "
                f"({', '.join(metrics) or 'none'}); an algorithm in your own image must define "
                "it there.")
        ranges = config.get("ParameterRanges") or {}
        limits = config.get("ResourceLimits") or {}
        parallel = limits.get("MaxParallelTrainingJobs")
        if not isinstance(parallel, int) or parallel < 1:
            raise validation_error("ResourceLimits.MaxParallelTrainingJobs must be at least 1.")
        max_jobs = limits.get("MaxNumberOfTrainingJobs")
        notes = {}
        if strategy == "Grid":
            if ranges.get("IntegerParameterRanges") or ranges.get("ContinuousParameterRanges"):
                raise validation_error("The Grid strategy supports categorical parameter ranges "
                                       "only (CategoricalParameterRanges).")
            combinations = len(grid(ranges))
            if not combinations:
                raise validation_error("The Grid strategy needs CategoricalParameterRanges.")
            if max_jobs is not None and max_jobs != combinations:
                raise validation_error(
                    f"With the Grid strategy, MaxNumberOfTrainingJobs ({max_jobs}) must equal "
                    f"the number of distinct categorical combinations ({combinations}), or be "
                    "left out.")
            max_jobs = combinations
        elif not isinstance(max_jobs, int) or max_jobs < 1:
            raise validation_error("ResourceLimits.MaxNumberOfTrainingJobs must be at least 1.")
        run_strategy = "Random" if strategy in RUN_AS_RANDOM else strategy
        if strategy in RUN_AS_RANDOM:
            notes["local-aws:strategy-note"] = (
                f"Strategy {strategy} was requested; the local AWS has no {strategy} "
                "optimisation and ran a Random search over the same ranges instead.")
        if config.get("TrainingJobEarlyStoppingType") == "Auto":
            notes["local-aws:early-stopping-note"] = (
                "TrainingJobEarlyStoppingType Auto was requested; the local AWS does not stop "
                "training jobs early: every job runs to its end.")
        local_limit = self._sagemaker.max_parallel_jobs
        if parallel > local_limit:
            notes["local-aws:parallel-note"] = (
                f"MaxParallelTrainingJobs is {parallel}; the local training-job limit is "
                f"{local_limit}, so at most {local_limit} training jobs run at once.")
        return run_strategy, max_jobs, min(parallel, local_limit), notes

    # ---- the tuning job's life cycle ---------------------------------------------------------

    def _run(self, job: TuningJob):
        try:
            self._search(job)
        except Exception as error:  # noqa: BLE001 - any local fault must end the job, not hang it
            self._finish(job, "Failed", f"InternalServerError: the local backend failed: {error}")

    def _search(self, job: TuningJob):
        config = job.request["HyperParameterTuningJobConfig"]
        ranges = config.get("ParameterRanges") or {}
        if job.strategy == "Grid":
            candidates = iter(grid(ranges))
        else:
            rng = random.Random(config.get("RandomSeed"))
            candidates = (random_choice(ranges, rng) for _ in itertools.count())
        max_runtime = (config.get("ResourceLimits") or {}).get("MaxRuntimeInSeconds")
        deadline = time.monotonic() + max_runtime if max_runtime else None
        running: list[str] = []
        launched = 0
        while True:
            running = [name for name in running
                       if not self._sagemaker.wait(name, job.region, timeout=0)]
            if deadline and time.monotonic() > deadline and not job.stop_requested:
                job.stop_requested = True
            if job.stop_requested:
                for name in running:
                    try:
                        self._sagemaker.stop_training_job(name, job.region)
                    except SageMakerError:
                        pass  # it ended meanwhile
                for name in running:
                    self._sagemaker.wait(name, job.region)
                return self._finish(job, "Stopped")
            while len(running) < job.parallel and launched < job.max_jobs:
                tuned = next(candidates)
                launched += 1
                name = f"{job.name}-{launched:03d}-{uuid.uuid4().hex[:8]}"
                try:
                    self._sagemaker.create_training_job(
                        training_request(job.request, name, tuned), job.region)
                except SageMakerError as error:
                    return self._finish(job, "Failed",
                                        f"The training job {name} could not be created: "
                                        f"{error.message}")
                job.runs.append(TrainingRun(name=name, tuned=tuned))
                running.append(name)
            if not running and launched >= job.max_jobs:
                break
            time.sleep(POLL_SECONDS)
        summaries = self._summaries(job)
        if not any(s.get("ObjectiveStatus") == "Succeeded" for s in summaries):
            return self._finish(job, "Failed", "No training job succeeded: none of the "
                                f"{len(summaries)} training jobs reported the objective metric "
                                f"{job.objective['MetricName']}.")
        self._finish(job, "Completed")

    def _finish(self, job: TuningJob, status: str, failure_reason: str | None = None):
        with self._lock:
            job.status, job.failure_reason = status, failure_reason
            job.end_time = job.last_modified_time = now()
        job.done.set()

    # ---- what describe and list report -------------------------------------------------------

    def _summaries(self, job: TuningJob) -> list[dict]:
        """HyperParameterTrainingJobSummary of each training job, from its description."""
        metric = job.objective["MetricName"]
        summaries = []
        for run in list(job.runs):
            described = self._sagemaker.describe_training_job(run.name, job.region)
            status = described["TrainingJobStatus"]
            summary = {"TrainingJobName": run.name, "TrainingJobArn": described["TrainingJobArn"],
                       "TuningJobName": job.name, "CreationTime": described["CreationTime"],
                       "TrainingJobStatus": status, "TunedHyperParameters": dict(run.tuned)}
            for source, target in (("TrainingStartTime", "TrainingStartTime"),
                                   ("TrainingEndTime", "TrainingEndTime"),
                                   ("FailureReason", "FailureReason")):
                if described.get(source):
                    summary[target] = described[source]
            value = next((m["Value"] for m in described.get("FinalMetricDataList") or []
                          if m["MetricName"] == metric), None)
            if status in ("InProgress", "Stopping"):
                summary["ObjectiveStatus"] = "Pending"
            elif status == "Completed" and value is not None:
                summary["ObjectiveStatus"] = "Succeeded"
                summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
                    "Type": job.objective["Type"], "MetricName": metric, "Value": value}
            else:
                summary["ObjectiveStatus"] = "Failed"
            summaries.append(summary)
        return summaries

    @staticmethod
    def _counters(summaries: list[dict]) -> dict:
        statuses = [s["TrainingJobStatus"] for s in summaries]
        objectives = [s["ObjectiveStatus"] for s in summaries]
        return {"TrainingJobStatusCounters": {
                    "Completed": statuses.count("Completed"),
                    "InProgress": statuses.count("InProgress") + statuses.count("Stopping"),
                    "RetryableError": 0, "NonRetryableError": statuses.count("Failed"),
                    "Stopped": statuses.count("Stopped")},
                "ObjectiveStatusCounters": {
                    "Succeeded": objectives.count("Succeeded"),
                    "Pending": objectives.count("Pending"),
                    "Failed": objectives.count("Failed")}}

    @staticmethod
    def _best(job: TuningJob, summaries: list[dict]) -> dict | None:
        scored = [s for s in summaries if s.get("ObjectiveStatus") == "Succeeded"]
        if not scored:
            return None
        sign = 1 if job.objective["Type"] == "Maximize" else -1
        # Ties go to the earlier job, as a search would keep the first best it found.
        return max(scored, key=lambda s: (
            sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
            -summaries.index(s)))


# ---- the search space ------------------------------------------------------------------------

def grid(ranges: dict) -> list[dict]:
    """Every combination of the categorical values, in the order the ranges list them."""
    categorical = ranges.get("CategoricalParameterRanges") or []
    if not categorical:
        return []
    names = [r["Name"] for r in categorical]
    return [dict(zip(names, values))
            for values in itertools.product(*[[str(v) for v in r["Values"]]
                                              for r in categorical])]


def random_choice(ranges: dict, rng: random.Random) -> dict:
    """One random draw of every tuned hyperparameter, as the strings a training job gets."""
    tuned = {}
    for spec in ranges.get("IntegerParameterRanges") or []:
        low, high = int(spec["MinValue"]), int(spec["MaxValue"])
        if spec.get("ScalingType") == "Logarithmic" and low > 0:
            value = round(math.exp(rng.uniform(math.log(low), math.log(high))))
            tuned[spec["Name"]] = str(min(max(value, low), high))
        else:
            tuned[spec["Name"]] = str(rng.randint(low, high))
    for spec in ranges.get("ContinuousParameterRanges") or []:
        low, high = float(spec["MinValue"]), float(spec["MaxValue"])
        if spec.get("ScalingType") == "Logarithmic" and low > 0:
            tuned[spec["Name"]] = repr(math.exp(rng.uniform(math.log(low), math.log(high))))
        else:
            tuned[spec["Name"]] = repr(rng.uniform(low, high))
    for spec in ranges.get("CategoricalParameterRanges") or []:
        tuned[spec["Name"]] = str(rng.choice(spec["Values"]))
    return tuned


def training_request(tuning_request: dict, name: str, tuned: dict) -> dict:
    """The CreateTrainingJob request for one training job of a tuning job."""
    definition = tuning_request["TrainingJobDefinition"]
    objective = tuning_request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    request = {key: value for key, value in definition.items()
               if key not in ("StaticHyperParameters", "HyperParameterRanges", "DefinitionName",
                              "TuningObjective")}
    request["TrainingJobName"] = name
    request["HyperParameters"] = {**(definition.get("StaticHyperParameters") or {}),
                                  OBJECTIVE_HYPERPARAMETER: objective["MetricName"], **tuned}
    return request


def _page(items: list, request: dict) -> tuple[list, str | None]:
    start = int(request.get("NextToken") or 0)
    limit = int(request.get("MaxResults") or 100)
    token = str(start + limit) if start + limit < len(items) else None
    return items[start:start + limit], token
