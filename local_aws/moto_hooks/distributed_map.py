"""Distributed Map on moto 5.2.5's interpreter: what it lacks, added here.

moto runs a Map with `ProcessorConfig.Mode: DISTRIBUTED`, reads items with an S3 `ItemReader`
(CSV with a header row or given headers, JSON arrays, `ReaderConfig.MaxItems`), keeps a Map Run
record and answers DescribeMapRun / ListMapRuns / UpdateMapRun from it. These are reused as they
are. What it gets wrong or lacks (each checked in tests/local_aws/test_distributed_map.py, which
notices when moto fixes it):

1. `ItemBatcher` is not in moto's ASL grammar: CreateStateMachine refuses the definition. Here it
   is taken out before moto parses, kept beside the parsed Map, and applied when the Map runs:
   each child execution gets `{"Items": [...], "BatchInput": ...}` (AWS developer guide,
   "ItemBatcher (Map)"), with `MaxItemsPerBatch` and `MaxInputBytesPerBatch`.
2. An integer `ToleratedFailurePercentage` (`30`) is refused by the grammar (it accepts `30.0`
   only); AWS takes any number from 0 to 100. Integers are given to moto as floats.
3. Tolerated failures are ignored (moto logs "declarations currently have no effect"): a failing
   child execution never fails the Map. AWS ("Tolerated failure threshold for Distributed Map
   state"): the Map Run fails with `States.ExceedToleratedFailureThreshold` when the failed or
   timed-out items exceed ToleratedFailureCount or ToleratedFailurePercentage; with neither set,
   one failure fails it.
4. `ResultWriter` writes a manifest that lists no files. AWS ("ResultWriter (Map)") writes
   `<Prefix>/<map run id>/manifest.json` and one file per status, `SUCCEEDED_0.json`,
   `FAILED_0.json`, each a JSON array of the child executions (ExecutionArn, Name, Input,
   Output or Error/Cause, Status, dates) - written here.
5. A failed child execution stays counted as `running` in DescribeMapRun's executionCounts.
6. There are no child executions: ListExecutions(mapRunArn=...) (API reference,
   ListExecutions: "mapRunArn ... lists the child workflow executions the Map Run started") fails.
   The child executions of each Map Run are recorded here, each with its own event history:
   listed by Map Run, answered by DescribeExecution (with its mapRunArn) and
   GetExecutionHistory.
7. A failed child's output is dropped (null). AWS returns a failed child's execution result
   unchanged (ResultWriter (Map): "If a child workflow execution fails, Step Functions returns
   its execution result unchanged"), i.e. its record with Error and Cause.

The local training-job limit applies inside child executions as anywhere: a training job waits
for a free local slot, and its SecondaryStatusTransitions say so.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import threading
import uuid

from moto.core.responses import ActionResult
from moto.stepfunctions import responses as stepfunctions_responses
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component as distributed,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as distributed_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
    resource_eval_s3,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel import (
    StateParallel,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped
from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

# moto's own functions that install() replaces, for the tests that notice when moto fixes them.
MOTO_ORIGINALS: dict = {}
TOLERANCE_FIELDS = ("ToleratedFailureCount", "ToleratedFailureCountPath",
                    "ToleratedFailurePercentage", "ToleratedFailurePercentagePath")
# The child executions of every Map Run of this process, for ListExecutions(mapRunArn=...).
_children_by_map_run: dict[str, list] = {}
_children_lock = threading.Lock()


# ---- 1, 2: what moto's grammar refuses, taken out before it parses ------------------------

def _prepare(states: dict, path: tuple, extras: dict) -> bool:
    """Take ItemBatcher out of the Map states under `states` (into extras[path]), note which
    tolerance fields each declares, turn integer percentages into floats. True if changed."""
    changed = False
    for name, state in (states or {}).items():
        if not isinstance(state, dict):
            continue
        here = path + (name,)
        if state.get("Type") == "Map":
            extra = {"batcher": state.pop("ItemBatcher", None),
                     "tolerance": {f for f in TOLERANCE_FIELDS if f in state}}
            changed |= extra["batcher"] is not None
            percentage = state.get("ToleratedFailurePercentage")
            if isinstance(percentage, int) and not isinstance(percentage, bool):
                state["ToleratedFailurePercentage"] = float(percentage)
                changed = True
            extras[here] = extra
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict):
                changed |= _prepare(processor.get("States"), here, extras)
        elif state.get("Type") == "Parallel":
            for index, branch in enumerate(state.get("Branches") or []):
                if isinstance(branch, dict):
                    changed |= _prepare(branch.get("States"), here + (index,), extras)
    return changed


def _attach(states_component, path: tuple, extras: dict):
    """Give each parsed Map's iteration component what _prepare took out of its definition."""
    for name, state in states_component.states.items():
        here = path + (name,)
        if isinstance(state, StateMap):
            component = state.iteration_component
            component.local_extras = extras.get(here, {"batcher": None, "tolerance": set()})
            _attach(component._states, here, extras)
        elif isinstance(state, StateParallel):
            for index, program in enumerate(state.branches.programs):
                _attach(program.states, here + (index,), extras)


def _parse(original):
    def parse(definition: str):
        try:
            document = json.loads(definition)
        except (TypeError, ValueError):
            return original(definition)  # moto reports what is wrong with it
        extras: dict = {}
        if isinstance(document, dict) and _prepare(document.get("States"), (), extras):
            definition = json.dumps(document)
        program, tree = original(definition)
        if hasattr(program, "states"):
            _attach(program.states, (), extras)
        return program, tree
    return parse


# ---- 1: ItemBatcher ------------------------------------------------------------------------

def batches(items: list, batcher: dict, batch_input=None) -> list[dict]:
    """Items grouped as AWS's ItemBatcher groups them: at most MaxItemsPerBatch items and
    MaxInputBytesPerBatch bytes (of JSON) per batch; each batch is {"Items": [...]} plus
    "BatchInput" when one is given."""
    max_items = batcher.get("MaxItemsPerBatch") or len(items) or 1
    max_bytes = batcher.get("MaxInputBytesPerBatch")
    grouped, current, size = [], [], 0
    for item in items:
        item_size = len(to_json_str(item).encode())
        if current and (len(current) >= max_items or (max_bytes and size + item_size > max_bytes)):
            grouped.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        grouped.append(current)
    return [{"Items": group, **({"BatchInput": batch_input} if batch_input is not None else {})}
            for group in grouped]


def _resolved(value, env):
    """A `...Path` field's value from the state's input."""
    from moto.stepfunctions.parser.asl.utils.json_path import extract_json
    return extract_json(value, env.states.get_input())


def _batched_inputs(component, env, items: list) -> list:
    batcher = (getattr(component, "local_extras", None) or {}).get("batcher")
    if not batcher:
        return items
    batcher = dict(batcher)
    for field in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
        if f"{field}Path" in batcher:
            batcher[field] = _resolved(batcher.pop(f"{field}Path"), env)
    batch_input = batcher.get("BatchInput")
    return batches(items, batcher, batch_input)


# ---- 3, 5, 6, 7: the Map Run -----------------------------------------------------------------

def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(stamp: dt.datetime) -> str:
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ChildExecution:
    """One child workflow execution of a Map Run, as AWS records it."""

    def __init__(self, map_run_record, job_input, item_count: int):
        self.name = str(uuid.uuid4())
        head, _, _ = map_run_record.map_run_arn.rpartition(":")
        self.arn = f"{head.replace(':mapRun:', ':execution:', 1)}:{self.name}"
        self.state_machine_arn = map_run_record.map_state_machine_arn
        self.map_run_arn = map_run_record.map_run_arn
        self.input = job_input
        self.item_count = item_count
        self.status = "RUNNING"
        self.output = self.error = self.cause = None
        self.start, self.stop = _now(), None
        self.event_manager = None

    def history(self) -> dict:
        return {"events": self.event_manager.get_event_history() if self.event_manager else []}

    def describe(self) -> dict:
        out = {"executionArn": self.arn, "stateMachineArn": self.state_machine_arn,
               "name": self.name, "status": self.status, "startDate": self.start,
               "input": to_json_str(self.input), "mapRunArn": self.map_run_arn}
        if self.stop:
            out["stopDate"] = self.stop
        if self.status == "SUCCEEDED":
            out["output"] = to_json_str(self.output)
        elif self.error is not None or self.cause is not None:
            out.update(error=self.error or "", cause=self.cause or "")
        return out

    def end(self, status: str, output=None, error=None, cause=None):
        self.status, self.output, self.error, self.cause = status, output, error, cause
        self.stop = _now()

    def result(self) -> dict:
        """The execution's entry in a ResultWriter file (and, when it failed, in the Map's
        output)."""
        out = {"ExecutionArn": self.arn, "Input": to_json_str(self.input),
               "InputDetails": {"Included": True}, "Name": self.name,
               "StartDate": _iso(self.start), "StateMachineArn": self.state_machine_arn,
               "Status": self.status}
        if self.stop:
            out["StopDate"] = _iso(self.stop)
        if self.status == "SUCCEEDED":
            out.update(Output=to_json_str(self.output), OutputDetails={"Included": True})
        else:
            out.update(Error=self.error or "", Cause=self.cause or "")
        return out

    def list_item(self) -> dict:
        out = {"executionArn": self.arn, "stateMachineArn": self.state_machine_arn,
               "name": self.name, "status": self.status, "startDate": self.start,
               "mapRunArn": self.map_run_arn}
        if self.stop:
            out["stopDate"] = self.stop
        return out


def _children(record) -> list:
    with _children_lock:
        return _children_by_map_run.setdefault(record.map_run_arn, [])


def _eval_job(self, env, job):
    """moto's DistributedItemProcessorWorker._eval_job with the counts kept right (5), every
    child execution recorded (6) and a failed child's result kept (7)."""
    record = self._map_run_record
    items = job.job_input.get("Items") if getattr(job, "batched", False) else None
    item_count = len(items) if isinstance(items, list) else 1
    child = ChildExecution(record, job.job_input, item_count)
    _children(record).append(child)
    record.item_counter.total.count(item_count)
    record.item_counter.running.count(item_count)
    record.execution_counter.total.count()
    record.execution_counter.running.count()
    outcome = "failed"
    error = cause = None
    env.event_manager = EventManager()  # each child execution has a history of its own
    child.event_manager = env.event_manager
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)
        child.input = copy.deepcopy(env.states.get_input())  # after ItemSelector, as on AWS
        job.job_program.eval(env)
        end_state = env.program_state()
        if isinstance(end_state, ProgramError):
            details = end_state.error or {}
            error, cause = details.get("error"), details.get("cause")
        elif isinstance(end_state, ProgramStopped):
            outcome = "aborted"
        else:
            outcome = "succeeded"
    except EvalTimeoutError:
        outcome, error, cause = "timed_out", "States.Timeout", "The child execution timed out."
    except FailureEventException as failure:
        error, cause = failure.extract_error_cause_pair() or (None, None)
    except Exception as exception:  # noqa: BLE001 - a child's fault fails that child only
        error, cause = type(exception).__name__, str(exception)
    for counter in (record.item_counter, record.execution_counter):
        amount = item_count if counter is record.item_counter else 1
        counter.running.offset(-amount)
        getattr(counter, outcome).count(amount)
        if outcome == "succeeded":
            counter.results_written.count(amount)
    if outcome == "succeeded":
        child.end("SUCCEEDED", output=env.states.get_input())
        job.job_output = child.output
    else:
        child.end({"failed": "FAILED", "timed_out": "TIMED_OUT"}.get(outcome, "ABORTED"),
                  error=error, cause=cause)
        job.job_output = child.result()


def exceeds_tolerance(failed: int, total: int, count: int, percentage: float,
                      declared: set) -> bool:
    """AWS's rule: the Map Run fails when the failed (or timed-out) items exceed either declared
    threshold; with none declared, one failure is too many."""
    count_set = bool(declared & {"ToleratedFailureCount", "ToleratedFailureCountPath"}) or count
    percent_set = bool(declared & {"ToleratedFailurePercentage",
                                   "ToleratedFailurePercentagePath"}) or percentage
    if not count_set and not percent_set:
        return failed > 0
    return bool((count_set and failed > count)
                or (percent_set and total and failed * 100.0 / total > percentage))


def _map_run(self, env, eval_input):
    """moto's DistributedIterationComponent._map_run, with ItemBatcher (1) and the tolerated
    failure threshold (3)."""
    record = eval_input.map_run_record
    job_inputs = _batched_inputs(self, env, env.stack.pop())
    batched = job_inputs is not None and bool(
        (getattr(self, "local_extras", None) or {}).get("batcher"))
    job_pool = JobPool(job_program=self._get_iteration_program(), job_inputs=job_inputs)
    for job in job_pool._open_jobs:
        job.batched = batched
    workers = (len(job_inputs) if record.max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE
               else min(record.max_concurrency, len(job_inputs)))
    for _ in range(workers):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    job_pool.await_jobs()
    worker_exception = job_pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    counts = record.item_counter
    failed = counts.failed.get() + counts.timed_out.get()
    declared = (getattr(self, "local_extras", None) or {}).get("tolerance", set())
    if exceeds_tolerance(failed, counts.total.get(), record.tolerated_failure_count,
                         record.tolerated_failure_percentage, declared):
        error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
        raise FailureEventException(failure_event=FailureEvent(
            env=env, error_name=error, event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(
                error=error.error_name,
                cause=(f"The Map Run failed: {failed} of {counts.total.get()} items failed, "
                       "more than its tolerated failure threshold (ToleratedFailureCount "
                       f"{record.tolerated_failure_count}, ToleratedFailurePercentage "
                       f"{record.tolerated_failure_percentage})")))))
    env.stack.append([closed.job_output for closed in job_pool.get_closed_jobs()])


# ---- 4: ResultWriter -----------------------------------------------------------------------

def _handle_put_object(env, resource_runtime_part, state_credentials):
    """Write the Map Run's results as AWS does: one JSON file per status and a manifest."""
    parameters = env.stack.pop()
    env.stack.pop()  # the Map's own result array: replaced by the ResultWriterDetails below
    # looked up at call time: credentials.install() replaces it with a signing client
    s3 = moto_boto_client.boto_client_for(service="s3", region=resource_runtime_part.region,
                         state_credentials=state_credentials)
    record = env.map_run_record_pool_manager.get_all().pop()
    run_id = record.map_run_arn.split(":")[-1]
    bucket, prefix = parameters["Bucket"], parameters.get("Prefix", "")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    files = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    children = _children(record)
    for status, in_file in (("SUCCEEDED", ("SUCCEEDED",)),
                            ("FAILED", ("FAILED", "TIMED_OUT", "ABORTED"))):
        results = [child.result() for child in children if child.status in in_file]
        if not results:
            continue
        key = f"{prefix}{run_id}/{status}_0.json"
        body = json.dumps(results).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    manifest_key = f"{prefix}{run_id}/manifest.json"
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps({
        "DestinationBucket": bucket, "MapRunArn": record.map_run_arn,
        "ResultFiles": files}).encode())
    env.stack.append({"MapRunArn": record.map_run_arn,
                      "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}})


# ---- 6: ListExecutions(mapRunArn=...) --------------------------------------------------------

def _list_executions(original):
    def list_executions(self):
        map_run_arn = self._get_param("mapRunArn")
        if not map_run_arn:
            return original(self)
        with _children_lock:
            children = list(_children_by_map_run.get(map_run_arn, []))
        status = self._get_param("statusFilter")
        listed = [child.list_item() for child in children if not status or child.status == status]
        return ActionResult({"executions": listed})
    return list_executions


def _child(execution_arn: str):
    with _children_lock:
        return next((child for children in _children_by_map_run.values() for child in children
                     if child.arn == execution_arn), None)


def _for_children(original, answer):
    """DescribeExecution / GetExecutionHistory: a Map Run's child execution is answered from
    its record; any other execution by moto."""
    def respond(self):
        child = _child(self._get_param("executionArn") or "")
        return original(self) if child is None else ActionResult(answer(child))
    return respond


def install_grammar():
    """The parser hook alone: what parsing a definition needs (local_aws.parse_definition), in a
    process that may never serve. The response hooks wait for install(), which runs after the
    other hooks: redrive's ListExecutions/DescribeExecution look every listed execution up in
    moto's backend, where a Map Run's children are not, so they must wrap moto, not these."""
    if "parse" not in MOTO_ORIGINALS:
        MOTO_ORIGINALS["parse"] = AmazonStateLanguageParser.parse
        AmazonStateLanguageParser.parse = staticmethod(_parse(MOTO_ORIGINALS["parse"]))


def install():
    install_grammar()
    if "map_run" in MOTO_ORIGINALS:  # installed already
        return
    MOTO_ORIGINALS.update(
        map_run=distributed.DistributedIterationComponent._map_run,
        eval_job=distributed_worker.DistributedItemProcessorWorker._eval_job,
        put_object=resource_eval_s3.ResourceEvalS3._handle_put_object,
        list_executions=stepfunctions_responses.StepFunctionResponse.list_executions,
        describe_execution=stepfunctions_responses.StepFunctionResponse.describe_execution,
        get_execution_history=stepfunctions_responses.StepFunctionResponse.get_execution_history)
    distributed.DistributedIterationComponent._map_run = _map_run
    distributed_worker.DistributedItemProcessorWorker._eval_job = _eval_job
    resource_eval_s3.ResourceEvalS3._handle_put_object = staticmethod(_handle_put_object)
    responses = stepfunctions_responses.StepFunctionResponse
    responses.list_executions = _list_executions(MOTO_ORIGINALS["list_executions"])
    responses.describe_execution = _for_children(MOTO_ORIGINALS["describe_execution"],
                                                 ChildExecution.describe)
    responses.get_execution_history = _for_children(MOTO_ORIGINALS["get_execution_history"],
                                                    ChildExecution.history)
