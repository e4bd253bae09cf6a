"""SageMaker batch transform jobs: a model's `serve` program, started as an endpoint starts it
(hosting.LocalHosting.start_model), fed every object under the input prefix.

As AWS documents it (API reference: CreateTransformJob, TransformInput, TransformOutput,
DataProcessing; developer guide: "Associate Prediction Results with Input Records"):
- every object under TransformInput's S3Uri (S3Prefix) is sent to POST /invocations with
  ContentType as its Content-Type and TransformOutput.Accept as its Accept header;
- SplitType None sends an object whole; Line splits it into records at newlines, which
  BatchStrategy SingleRecord sends one per request and MultiRecord packs up to MaxPayloadInMB
  (default 6) per request; a request over MaxPayloadInMB fails the job;
- the answers of an object are assembled (AssembleWith Line: one per line; None: concatenated)
  into <S3OutputPath>/<the object's path below the prefix>.out, uploaded only once the whole
  object succeeded; one failing object fails the job, the objects done before keep their output;
- DataProcessing (for CSV, each row taken as a JSON array): InputFilter selects the columns
  sent to the model, JoinSource Input appends each row's prediction to the whole input row,
  OutputFilter selects columns of that joined row (an index out of range fails the job);
- the container's output goes to CloudWatch Logs, group /aws/sagemaker/TransformJobs.
Failures name the object and the record: "ClientError: ... s3://bucket/key, record 3: ...".

What the local backend does differently, and says so: requests are sent one at a time
(MaxConcurrentTransforms is recorded, not used); DataProcessing filters work on CSV only
(ContentType text/csv), with JSONPath `$`, `$[i]`, `$[i,j,...]` and slices `$[a:b]` (negative
indexes as in Python) — the operators AWS documents for CSV.
"""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .jobs import Job, JobKind, validation_error
from .s3files import UnsafePath, parse_uri, planned_downloads

TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"
DEFAULT_MAX_PAYLOAD_MB = 6  # AWS's default MaxPayloadInMB
MAX_PAYLOAD_LIMIT_MB = 100
PING_TIMEOUT_SECONDS = 60
CSV_TYPES = ("text/csv", "application/csv")
_INDEX_FILTER = re.compile(r"^\$(\[\s*(-?\d+|-?\d*\s*:\s*-?\d*)(\s*,\s*(-?\d+|-?\d*\s*:\s*-?\d*))*"
                           r"\s*\])?$")


class RecordError(Exception):
    """A record the job cannot transform: the message becomes part of FailureReason."""


def csv_filter(expression: str | None):
    """A JSONPath filter over a CSV row (a list of cells) -> the selected cells, or None for `$`
    (everything). Raises ValueError for an expression outside the supported operators."""
    expression = (expression or "$").strip()
    if not _INDEX_FILTER.match(expression):
        raise ValueError(
            f"'{expression}': the local backend applies JSONPath to CSV rows with `$`, `$[i]`, "
            "`$[i,j,...]` and slices `$[a:b]` (as AWS documents for CSV).")
    if expression == "$":
        return None
    parts = [p.strip() for p in expression[2:-1].split(",")]

    def select(row: list[str]) -> list[str]:
        selected = []
        for part in parts:
            if ":" in part:
                start, _, stop = part.partition(":")
                selected += row[slice(int(start) if start.strip() else None,
                                      int(stop) if stop.strip() else None)]
            else:
                index = int(part)
                if not -len(row) <= index < len(row):
                    raise RecordError(f"the index {index} of the filter '{expression}' is outside "
                                      f"the row's {len(row)} columns")
                selected.append(row[index])
        return selected

    return select


def _csv_row(text: str) -> list[str]:
    return next(csv.reader([text]), [])


def _csv_text(row: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()


class TransformJob(Job):
    pass


class LocalTransform(JobKind):
    kind = "transform job"
    name_field = "TransformJobName"
    arn_resource = "transform-job"
    log_group = TRANSFORM_LOG_GROUP
    required_fields = ("TransformJobName", "ModelName", "TransformInput", "TransformOutput",
                       "TransformResources")
    job_class = TransformJob

    def __init__(self, clients, account_id: str, work_root: Path, slots, hosting,
                 stop_grace_seconds: float = 10.0):
        super().__init__(clients, account_id, work_root, slots, stop_grace_seconds)
        self._hosting = hosting  # models, and how their `serve` program starts

    # ---- API operations --------------------------------------------------------------------

    def operations(self) -> dict:
        """The API operations of this kind: {operation: handler(request, region)}."""
        return {"CreateTransformJob": self.create_transform_job,
                "DescribeTransformJob": self.describe_transform_job,
                "ListTransformJobs": self.list_transform_jobs,
                "StopTransformJob": self.stop_transform_job}

    def create_transform_job(self, request: dict, region: str) -> dict:
        return {"TransformJobArn": self.create(request, region).arn}

    def describe_transform_job(self, request: dict, region: str) -> dict:
        return self.describe(self.get(request.get("TransformJobName", ""), region))

    def list_transform_jobs(self, request: dict, region: str) -> dict:
        return self.listed(request, region, "TransformJobSummaries")

    def stop_transform_job(self, request: dict, region: str) -> dict:
        self.stop(request.get("TransformJobName", ""), region)
        return {}

    def describe(self, job: Job) -> dict:
        request = job.request
        out = {
            "TransformJobName": job.name, "TransformJobArn": job.arn,
            "TransformJobStatus": job.status, "ModelName": request["ModelName"],
            "MaxConcurrentTransforms": request.get("MaxConcurrentTransforms", 1),
            "MaxPayloadInMB": request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
            "BatchStrategy": request.get("BatchStrategy", "MultiRecord"),
            "TransformInput": {"CompressionType": "None", "SplitType": "None",
                               **request["TransformInput"]},
            "TransformOutput": request["TransformOutput"],
            "TransformResources": request["TransformResources"],
            "CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time,
            "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None",
                               **(request.get("DataProcessing") or {})},
        }
        for key in ("Environment", "ModelClientConfig", "ExperimentConfig"):
            if request.get(key):
                out[key] = request[key]
        if job.failure_reason:
            out["FailureReason"] = job.failure_reason
        if job.start_time:
            out["TransformStartTime"] = job.start_time
        if job.end_time:
            out["TransformEndTime"] = job.end_time
        return out

    def summary(self, job: Job) -> dict:
        summary = {"TransformJobName": job.name, "TransformJobArn": job.arn,
                   "CreationTime": job.creation_time, "LastModifiedTime": job.last_modified_time,
                   "TransformJobStatus": job.status}
        if job.end_time:
            summary["TransformEndTime"] = job.end_time
        if job.failure_reason:
            summary["FailureReason"] = job.failure_reason
        return summary

    # ---- validation ------------------------------------------------------------------------

    def _duplicate_message(self, existing: Job) -> str:
        return (f"Transform job names must be unique within an AWS account and region, and a "
                f"transform job with this name already exists ({existing.arn})")

    def _validate(self, request: dict, region: str):
        if self._hosting.model(request["ModelName"], region) is None:
            raise validation_error(f"Could not find model \"arn:aws:sagemaker:{region}:"
                                   f"{self.account_id}:model/{request['ModelName'].lower()}\".")
        source = (request["TransformInput"].get("DataSource") or {}).get("S3DataSource") or {}
        if not str(source.get("S3Uri", "")).startswith("s3://"):
            raise validation_error("TransformInput.DataSource.S3DataSource.S3Uri must be an "
                                   "s3:// URI.")
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise validation_error("The local backend supports S3DataType S3Prefix only, not "
                                   f"{source['S3DataType']}.")
        if not str(request["TransformOutput"].get("S3OutputPath", "")).startswith("s3://"):
            raise validation_error("TransformOutput.S3OutputPath must be an s3:// URI.")
        split = request["TransformInput"].get("SplitType", "None")
        if split not in ("None", "Line"):
            raise validation_error(f"The local backend supports SplitType None and Line, not "
                                   f"{split} (AWS also reads RecordIO and TFRecord).")
        if request["TransformInput"].get("CompressionType", "None") != "None":
            raise validation_error("The local backend supports CompressionType None only.")
        strategy = request.get("BatchStrategy", "MultiRecord")
        if strategy not in ("MultiRecord", "SingleRecord"):
            raise validation_error(f"Value '{strategy}' at 'batchStrategy' failed to satisfy "
                                   "constraint: Member must satisfy enum value set: "
                                   "[MultiRecord, SingleRecord]")
        payload = request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
        if not isinstance(payload, int) or not 0 <= payload <= MAX_PAYLOAD_LIMIT_MB:
            raise validation_error(f"Value '{payload}' at 'maxPayloadInMB' failed to satisfy "
                                   "constraint: Member must have value less than or equal to "
                                   f"{MAX_PAYLOAD_LIMIT_MB}")
        assemble = request["TransformOutput"].get("AssembleWith", "None")
        if assemble not in ("None", "Line"):
            raise validation_error(f"Value '{assemble}' at 'transformOutput.assembleWith' failed "
                                   "to satisfy constraint: Member must satisfy enum value set: "
                                   "[None, Line]")
        processing = request.get("DataProcessing") or {}
        join = processing.get("JoinSource", "None")
        if join not in ("None", "Input"):
            raise validation_error(f"Value '{join}' at 'dataProcessing.joinSource' failed to "
                                   "satisfy constraint: Member must satisfy enum value set: "
                                   "[Input, None]")
        if self._data_processing(request):
            content_type = (request["TransformInput"].get("ContentType") or "").split(";")[0]
            if content_type.strip().lower() not in CSV_TYPES:
                raise validation_error(
                    "The local backend applies DataProcessing (InputFilter, JoinSource, "
                    f"OutputFilter) to CSV input only (ContentType text/csv), not "
                    f"'{content_type or 'unset'}'.")
            for key in ("InputFilter", "OutputFilter"):
                try:
                    csv_filter(processing.get(key))
                except ValueError as error:
                    raise validation_error(f"DataProcessing.{key} {error}") from None

    @staticmethod
    def _data_processing(request: dict) -> bool:
        processing = request.get("DataProcessing") or {}
        return (processing.get("InputFilter", "$").strip() != "$"
                or processing.get("OutputFilter", "$").strip() != "$"
                or processing.get("JoinSource", "None") == "Input")

    # ---- the job's work --------------------------------------------------------------------

    def _execute(self, job: Job, workdir: Path):
        request, region = job.request, job.region
        self._started(job)
        model = self._hosting.model(request["ModelName"], region)
        if model is None:
            return self._fail(job, f"ClientError: the model {request['ModelName']} was deleted "
                              "before the job started.")
        source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        s3 = self._clients("s3", region)
        try:
            planned = planned_downloads(s3, source, workdir / "input")
        except UnsafePath as error:
            return self._fail(job, f"ClientError: {error}.")
        except Exception as error:  # noqa: BLE001 - e.g. NoSuchBucket
            return self._fail(job, f"ClientError: cannot list the input {source}: {error}")
        if not planned:
            return self._fail(job, f"ClientError: No S3 objects found under S3 URL \"{source}\" "
                              "given in input data source. Please ensure that the bucket exists "
                              "in the selected region, and that objects exist under that S3 "
                              "prefix.")
        environment = {**(request.get("Environment") or {}), "SAGEMAKER_BATCH": "true",
                       "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(self._max_payload_mb(request)),
                       "SAGEMAKER_BATCH_STRATEGY": self._strategy(request),
                       "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "1"}
        # Log stream <job>/i-<port>, as AWS names it <job>/<instance id>.
        variant = self._hosting.start_model(model, region, job.name, job.name, environment,
                                            log_group=self.log_group)
        job.program, job.log_stream = variant.program, variant.log.stream
        try:
            if job.stop_reason:
                return self._finish_stopped(job)
            problem = variant.wait_healthy(PING_TIMEOUT_SECONDS)
            if problem:
                return self._fail(job, "ClientError: The model container did not pass the ping "
                                  f"health check: {problem}. See the log group "
                                  f"{self.log_group}.")
            bucket, _ = parse_uri(source)
            for key, path in planned:
                if job.stop_reason:
                    return self._finish_stopped(job)
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(path))
                try:
                    output = self._transform_object(job, variant, path.read_bytes())
                except RecordError as error:
                    if job.stop_reason:
                        return self._finish_stopped(job)
                    variant.log.add(f"[sagemaker logs]: {bucket}/{key}: {error}")
                    return self._fail(job, f"ClientError: s3://{bucket}/{key}, {error}")
                self._upload(job, path.relative_to(workdir / "input").as_posix(), output)
        finally:
            variant.stop(drain_seconds=0)
        if job.stop_reason:
            return self._finish_stopped(job)
        self._finish(job, "Completed", "Completed", "Transform job completed")

    def _fail(self, job: Job, reason: str):
        self._finish(job, "Failed", "Failed", "Transform job failed", reason)

    @staticmethod
    def _max_payload_mb(request: dict) -> int:
        return request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)

    @staticmethod
    def _strategy(request: dict) -> str:
        return request.get("BatchStrategy", "MultiRecord")

    def _upload(self, job: Job, relative: str, body: bytes):
        bucket, prefix = parse_uri(job.request["TransformOutput"]["S3OutputPath"])
        key = "/".join(filter(None, [prefix.rstrip("/"), f"{relative}.out"]))
        extra = {}
        if job.request["TransformOutput"].get("Accept"):
            extra["ContentType"] = job.request["TransformOutput"]["Accept"]
        self._clients("s3", job.region).put_object(Bucket=bucket, Key=key, Body=body, **extra)

    def _transform_object(self, job: Job, variant, body: bytes) -> bytes:
        """One object's output, or RecordError naming the record that failed."""
        request = job.request
        split = request["TransformInput"].get("SplitType", "None")
        processing = request.get("DataProcessing") or {}
        per_row = self._data_processing(request)
        if split == "None" and not per_row:
            records = [body]
        else:
            records = [line for line in body.split(b"\n") if line.strip()]
        sent = records
        if per_row:
            select = csv_filter(processing.get("InputFilter"))
            sent = []
            for number, record in enumerate(records, start=1):
                row = _csv_row(self._text(record, number))
                try:
                    sent.append(_csv_text(select(row) if select else row).encode())
                except RecordError as error:
                    raise RecordError(f"record {number}: {error}") from None
        answers = []  # (first record number, how many records, answer)
        for first, batch in self._batches(request, sent, split):
            where = (f"record {first}" if len(batch) == 1
                     else f"records {first}-{first + len(batch) - 1}")
            try:
                status, payload, _ = variant.invoke(
                    b"\n".join(batch) + (b"\n" if split == "Line" or per_row else b""),
                    request["TransformInput"].get("ContentType") or "application/octet-stream",
                    request["TransformOutput"].get("Accept"))
            except OSError as error:  # the container went away (or was stopped)
                raise RecordError(f"{where}: the model container did not answer: {error}") \
                    from None
            if status >= 400:
                message = payload.decode("utf-8", errors="replace").strip()
                raise RecordError(f"{where}: the model container answered {status} (Bad HTTP "
                                  f"status received from algorithm): {message}")
            answers.append((first, len(batch), payload))
        if per_row:
            return self._joined(records, answers, processing)
        if request["TransformOutput"].get("AssembleWith", "None") == "Line":
            return b"".join(a if a.endswith(b"\n") else a + b"\n" for _, _, a in answers)
        return b"".join(a for _, _, a in answers)

    def _batches(self, request: dict, records: list[bytes], split: str):
        """(number of the first record, records) per request, as BatchStrategy and
        MaxPayloadInMB say."""
        limit = self._max_payload_mb(request) * 1024 * 1024 or None
        if split == "None":  # the whole object (its rows, if filtered) in one request
            batches = [(1, records)]
        elif self._strategy(request) == "SingleRecord":
            batches = [(n, [r]) for n, r in enumerate(records, start=1)]
        else:
            batches, current, size, first = [], [], 0, 1
            for number, record in enumerate(records, start=1):
                if current and limit and size + len(record) + 1 > limit:
                    batches.append((first, current))
                    current, size, first = [], 0, number
                current.append(record)
                size += len(record) + 1
            if current:
                batches.append((first, current))
        for first, batch in batches:
            size = sum(len(r) + 1 for r in batch)
            if limit and size > limit:
                where = f"record {first}" if len(batch) == 1 else "the object"
                raise RecordError(f"{where}: {size} bytes are over MaxPayloadInMB "
                                  f"({self._max_payload_mb(request)} MB)")
            yield first, batch

    @staticmethod
    def _text(record: bytes, number: int) -> str:
        try:
            return record.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            raise RecordError(f"record {number}: not UTF-8 text") from None

    def _joined(self, records: list[bytes], answers: list, processing: dict) -> bytes:
        """Each input row (whole, before InputFilter) followed by its prediction's columns, then
        OutputFilter; one row per line."""
        predictions = []
        for first, count, answer in answers:
            rows = [line for line in answer.decode("utf-8", errors="replace").split("\n")
                    if line.strip()]
            if len(rows) != count:
                raise RecordError(f"records {first}-{first + count - 1}: the model answered "
                                  f"{len(rows)} rows for {count} records, so they cannot be "
                                  "joined to their inputs")
            predictions += rows
        join = processing.get("JoinSource", "None") == "Input"
        select = csv_filter(processing.get("OutputFilter"))
        lines = []
        for number, (record, prediction) in enumerate(zip(records, predictions), start=1):
            row = (_csv_row(self._text(record, number)) if join else []) \
                + _csv_row(prediction.rstrip("\r"))
            try:
                lines.append(_csv_text(select(row) if select else row))
            except RecordError as error:
                raise RecordError(f"record {number}: OutputFilter: {error}") from None
        return "".join(f"{line}\n" for line in lines).encode()

