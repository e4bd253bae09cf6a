"""RedriveExecution on moto's interpreter (moto 5.2.5 has the API's types, copied from LocalStack,
but neither its provider nor its HTTP layer implements it: 500 through the server).

What AWS documents and is done here (API reference, RedriveExecution
https://docs.aws.amazon.com/step-functions/latest/apireference/API_RedriveExecution.html; developer
guide, "Redriving executions" https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html):
- a FAILED, TIMED_OUT or ABORTED execution continues from the unsuccessful state, with the input
  that state had, the same ARN, definition and variables; the states that succeeded are not rerun;
  the history keeps its events and continues after an `ExecutionRedriven` event; a state machine
  TimeoutSeconds counts again from the redrive; `$$.Execution.RedriveCount` is the redrive's
  number (0 before any);
- an inline Map or a Parallel state being redriven reruns only the iterations and branches that
  did not succeed; the others keep the results they had;
- DescribeExecution: `redriveCount`, `redriveDate`, `redriveStatus` REDRIVABLE / NOT_REDRIVABLE
  with AWS's `redriveStatusReason`; ListExecutions: `redriveCount`, `redriveDate` and the
  `redriveFilter` REDRIVEN / NOT_REDRIVEN;
- refusals: ExecutionNotRedrivable for a RUNNING or SUCCEEDED execution, past the redrivable period
  (14 days after it stopped), past the maximum execution time (one year after it started), with
  24,999 history events or more (the redrive needs room for its own), or of an EXPRESS state
  machine; ExecutionDoesNotExist; InvalidArn;
- `clientToken`: the same token again answers as the redrive it started (AWS keeps the last 10
  tokens for 15 minutes) instead of redriving once more.
Not done: ExecutionLimitExceeded (the local AWS has no quota of open executions); Distributed Map
runs (RedriveMapRun); a failed iteration or branch is rerun from its start state.
"""
from __future__ import annotations

import copy
import datetime as dt
import threading

from moto.stepfunctions.exceptions import ExecutionDoesNotExist, InvalidArn
from moto.stepfunctions.parser.api import (
    ExecutionRedrivenEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iteration_worker import (
    IterationWorker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.branch_worker import (
    BranchWorker,
)
from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventHistoryContext
from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramRunning
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.stepfunctions.parser.utils import TMP_THREADS
from moto.stepfunctions.responses import StepFunctionResponse

REDRIVABLE_PERIOD = dt.timedelta(days=14)
MAX_EXECUTION_TIME = dt.timedelta(days=365)
# AWS: an execution's history holds at most 25,000 events; a redrive needs the ExecutionRedriven
# event and at least one more, so it is refused from 24,999 events on.
HISTORY_EVENT_LIMIT = 24_999
CLIENT_TOKENS_KEPT = 10
CLIENT_TOKEN_LIFETIME = dt.timedelta(minutes=15)
UNSUCCESSFUL = ("FAILED", "TIMED_OUT", "ABORTED")


class Refused(Exception):
    """An AWS error answer: `code` is AWS's error name."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _now() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


# ---- what an execution remembers for a redrive -------------------------------------------------

def _memory(env) -> dict:
    """Results of the Map iterations and Parallel branches that succeeded, by where they ran.
    Kept on the event manager, which every frame of one execution shares."""
    manager = env.event_manager
    if not hasattr(manager, "redrive_memory"):
        manager.redrive_memory, manager.redrive_replay = {}, {}
    return manager.redrive_memory


def _replay(env) -> dict:
    _memory(env)
    return env.event_manager.redrive_replay


def _record_state_entry(original):
    def eval_body(self, env):
        if not env.is_frame():  # the top level: where a redrive would continue from
            env.redrive_entry = (self.name, copy.deepcopy(env.states.get_input()))
        return original(self, env)
    return eval_body


def _eval_job(original):
    def eval_job(self, env, job):
        key = getattr(self._env, "redrive_path", ()) + (self._work_name, job.job_index)
        env.redrive_path = key
        replay = _replay(env)
        if key in replay:  # succeeded before the redrive: not rerun
            job.job_output = replay.pop(key)
            return
        original(self, env, job)
        if isinstance(job.job_output, Exception):
            _memory(env).pop(key, None)
        else:
            _memory(env)[key] = copy.deepcopy(job.job_output)
    return eval_job


def _branches_eval_body(self, env):
    """moto's BranchesDecl._eval_body, plus: a branch that succeeded before a redrive is not
    rerun, and the results of the branches that succeeded are remembered."""
    input_value = env.stack.pop()
    state = env.states.context_object.context_object_data.get("State", {}).get("Name")
    parent = getattr(env, "redrive_path", ())
    keys = [parent + (state, "branch", index) for index in range(len(self.programs))]
    replay = _replay(env)
    results = {key: replay.pop(key) for key in keys if key in replay}
    pending = [(key, program) for key, program in zip(keys, self.programs)
               if key not in results]
    pool = branches_decl.BranchWorkerPool(workers_num=len(pending))
    workers = []
    for key, program in pending:
        frame = env.open_inner_frame()
        frame.redrive_path = key
        frame.states.reset(input_value=input_value)
        worker = BranchWorker(branch_worker_comm=pool, program=program, env=frame)
        workers.append((key, worker))
        worker.start()
    if workers:
        pool.wait()
    failed = pool.get_exit_event_details() if workers else None
    memory = _memory(env)
    for key, worker in workers:
        if isinstance(worker.env.program_state(), ProgramEnded):
            results[key] = worker.env.states.get_input()
            memory[key] = copy.deepcopy(results[key])
        else:
            memory.pop(key, None)
    if failed is not None:
        for _, worker in workers:
            worker.stop(stop_date=_now(), cause=None, error=None)
            env.close_frame(worker.env)
        raise FailureEventException(failure_event=FailureEvent(
            env=env,  # the class errors.py rebinds there, so States.* names survive
            error_name=branches_decl.CustomErrorName(error_name=failed.get("error")),
            event_type=HistoryEventType.ExecutionFailed,
            event_details=EventDetails(executionFailedEventDetails=failed)))
    for _, worker in workers:
        env.close_frame(worker.env)
    env.stack.append([results[key] for key in keys])


def _with_redrive_count(original):
    def environment(self):
        env = original(self)
        env.states.context_object.context_object_data["Execution"]["RedriveCount"] = 0
        return env
    return environment


# ---- the API -------------------------------------------------------------------------------------

def _backend(account: str, region: str):
    return stepfunctions_parser_backends[account][region]


def _execution(backend, arn: str):
    try:
        return backend.describe_execution(arn)
    except ExecutionDoesNotExist as missing:
        raise Refused("ExecutionDoesNotExist", missing.message) from None
    except InvalidArn as invalid:
        raise Refused("InvalidArn", invalid.message) from None


def not_redrivable_reason(execution) -> str | None:
    """Why AWS would refuse to redrive this execution now (its redriveStatusReason), or None."""
    status = execution.status
    if status in ("RUNNING", "SUCCEEDED"):
        return f"Execution is {status} and cannot be redriven."
    if str(getattr(execution.sm_type, "value", execution.sm_type)) == "EXPRESS":
        return "Executions of EXPRESS state machines cannot be redriven."
    now = _now()
    if execution.start_date + MAX_EXECUTION_TIME < now:
        return "Execution has exceeded the max execution time."
    if execution.stop_date is not None and execution.stop_date + REDRIVABLE_PERIOD < now:
        return "Execution redrivable period exceeded."
    if len(execution.exec_worker.env.event_manager.get_event_history()) >= HISTORY_EVENT_LIMIT:
        return "Execution history event limit exceeded."
    return None


def redrive_fields(execution) -> dict:
    """DescribeExecution's redrive fields."""
    fields = {"redriveCount": getattr(execution, "redrive_count", 0)}
    if getattr(execution, "redrive_date", None) is not None:
        fields["redriveDate"] = execution.redrive_date
    reason = not_redrivable_reason(execution)
    fields["redriveStatus"] = "REDRIVABLE" if reason is None else "NOT_REDRIVABLE"
    if reason is not None:
        fields["redriveStatusReason"] = reason
    return fields


def _known_token(execution, token: str | None):
    if not token:
        return None
    tokens = getattr(execution, "redrive_tokens", {})
    used = tokens.get(token)
    if used is not None and _now() - used[0] <= CLIENT_TOKEN_LIFETIME:
        return used[1]
    return None


def _remember_token(execution, token: str | None, redrive_date):
    if not token:
        return
    tokens = execution.__dict__.setdefault("redrive_tokens", {})
    tokens[token] = (_now(), redrive_date)
    while len(tokens) > CLIENT_TOKENS_KEPT:
        tokens.pop(next(iter(tokens)))


_lock = threading.Lock()


def redrive_execution(request: dict, account: str, region: str) -> dict:
    execution = _execution(_backend(account, region), request.get("executionArn", ""))
    with _lock:
        token = request.get("clientToken")
        known = _known_token(execution, token)
        if known is not None:
            return {"redriveDate": known}
        reason = not_redrivable_reason(execution)
        if reason is not None:
            raise Refused("ExecutionNotRedrivable", reason)
        redrive_date = _restart(execution)
        _remember_token(execution, token, redrive_date)
    return {"redriveDate": redrive_date}


def _restart(execution):
    worker = execution.exec_worker
    old = worker.env
    entry = getattr(old, "redrive_entry", None)
    if entry is None:
        raise Refused("ExecutionNotRedrivable", "The execution ran no state: nothing to redrive.")
    state_name, state_input = entry
    execution.redrive_count = getattr(execution, "redrive_count", 0) + 1
    now = _now()  # to the millisecond, as the JSON protocol carries it
    execution.redrive_date = now.replace(microsecond=now.microsecond // 1000 * 1000)
    # A new environment sharing the history, variables and what Map/Parallel remember: whatever
    # may still run in the old one (a timed-out state) stays stopped with it.
    env = Environment.as_inner_frame_of(
        env=old, variable_store=old.variable_store,
        event_history_frame_cache=EventHistoryContext(
            previous_event_id=old.event_history_context.last_published_event_id))
    env._is_frame = False
    env._program_state = ProgramRunning()
    env.next_state_name = state_name
    env.states.reset(input_value=state_input)
    context = env.states.context_object.context_object_data
    context["Execution"] = {**context["Execution"], "RedriveCount": execution.redrive_count,
                            "RedriveTime": execution.redrive_date.isoformat()}
    memory = _memory(old)
    old.event_manager.redrive_replay = dict(memory)
    env.event_manager.add_event(
        context=env.event_history_context, event_type=HistoryEventType.ExecutionRedriven,
        event_details=EventDetails(executionRedrivenEventDetails=ExecutionRedrivenEventDetails(
            redriveCount=execution.redrive_count)))
    execution.exec_status = ExecutionStatus.RUNNING
    execution.stop_date = execution.error = execution.cause = None
    worker.env = env
    program = AmazonStateLanguageParser.parse(execution.state_machine.definition)[0]
    thread = threading.Thread(target=_continue, args=(program, env, worker), daemon=True)
    TMP_THREADS.append(thread)
    thread.start()
    return execution.redrive_date


def _continue(program, env, worker):
    """Program.eval without going back to StartAt: the state machine's TimeoutSeconds counts from
    the redrive (AWS resets it)."""
    timeout = program.timeout_seconds.timeout_seconds if program.timeout_seconds else None
    runner = threading.Thread(target=EvalComponent.eval, args=(program, env), daemon=True)
    TMP_THREADS.append(runner)
    runner.start()
    runner.join(timeout=timeout)
    if runner.is_alive():
        env.set_timed_out()
    worker._execution_communication.terminated()


# ---- DescribeExecution and ListExecutions: the redrive fields ----------------------------------

def _describe_execution(original):
    def describe_execution(self):
        result = original(self)
        execution = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))
        result.result.update(redrive_fields(execution))
        return result
    return describe_execution


def _list_executions(original):
    def list_executions(self):
        result = original(self)
        wanted = self._get_param("redriveFilter")
        listed = []
        for item in result.result["executions"]:
            execution = self.stepfunction_backend.describe_execution(item["executionArn"])
            count = getattr(execution, "redrive_count", 0)
            if wanted == "REDRIVEN" and count == 0 or wanted == "NOT_REDRIVEN" and count > 0:
                continue
            item["redriveCount"] = count
            if getattr(execution, "redrive_date", None) is not None:
                item["redriveDate"] = execution.redrive_date
            listed.append(item)
        result.result["executions"] = listed
        return result
    return list_executions


_installed = False
# moto's own functions that install() replaces, for the tests that notice when moto fixes them.
MOTO_ORIGINALS: dict = {}


def install():
    global _installed
    if _installed:
        return
    _installed = True
    MOTO_ORIGINALS.update(describe_execution=StepFunctionResponse.describe_execution)
    CommonStateField._eval_body = _record_state_entry(CommonStateField._eval_body)
    IterationWorker._eval_job = _eval_job(IterationWorker._eval_job)
    branches_decl.BranchesDecl._eval_body = _branches_eval_body
    ExecutionWorker._get_evaluation_environment = _with_redrive_count(
        ExecutionWorker._get_evaluation_environment)
    StepFunctionResponse.describe_execution = _describe_execution(
        StepFunctionResponse.describe_execution)
    StepFunctionResponse.list_executions = _list_executions(StepFunctionResponse.list_executions)
