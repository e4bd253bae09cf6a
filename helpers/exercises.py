"""Exercises that check themselves: `helpers.exercises.check(aws, "04.1", answer)`.

Each notebook ends with exercises; each has an id ("<notebook>.<number>") and a checker here. The
learner's cell sets `answer` (an execution's ARN, a definition's piece, a number, a directory)
and calls `check`, which looks at the real thing through the API (the execution's definition and
history, the training job, the endpoint) and answers with what is right and what is not, in
words about the exercise: never a bare pass or fail. The checkers use API calls only, so they
work on both backends.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

from botocore.exceptions import ClientError

from . import cleanup, config, data, executions
from .graph import all_states
from .names import Names

TRAINING_RESOURCE = "createTrainingJob"
AN_EXECUTION = "the ARN of the execution you ran"


class NotYet(Exception):
    """Stops a checker at the first problem that makes the rest meaningless."""


@dataclass
class Feedback:
    exercise: str
    title: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.passed

    def _lines(self) -> tuple[str, list[str]]:
        if self.passed:
            return f"✔ {self.exercise} · {self.title}: done.", self.notes
        return f"✘ {self.exercise} · {self.title}: not yet.", self.problems + self.notes

    def __repr__(self) -> str:
        head, lines = self._lines()
        return "\n".join([head] + [f"  - {line}" for line in lines])

    def _repr_markdown_(self) -> str:
        head, lines = self._lines()
        return "\n".join([f"**{head}**", ""] + [f"- {line}" for line in lines])


@dataclass
class Exercise:
    title: str
    expects: str  # what `answer` should be, said to a learner who has not set it yet
    checker: object


EXERCISES: dict[str, Exercise] = {}


def exercise(exercise_id: str, title: str, expects: str):
    def register(checker):
        EXERCISES[exercise_id] = Exercise(title, expects, checker)
        return checker
    return register


def check(aws, exercise_id: str, answer) -> Feedback:
    """Check `answer` to exercise `exercise_id`; the Feedback shows itself in a notebook."""
    if exercise_id not in EXERCISES:
        raise KeyError(f"No exercise {exercise_id!r}; the exercises are {', '.join(EXERCISES)}")
    spec = EXERCISES[exercise_id]
    feedback = Feedback(exercise_id, spec.title)
    if answer is None:
        feedback.problems.append(f"No answer yet: set `answer` to {spec.expects}.")
        return feedback
    try:
        spec.checker(aws, answer, feedback)
    except NotYet as stop:
        feedback.problems.append(str(stop))
    return feedback


# ---- reading what the learner made ------------------------------------------------------------

def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _execution(aws, answer, what: str = AN_EXECUTION) -> tuple[dict, dict]:
    """The finished execution and the definition it ran (waiting for it if it still runs)."""
    if not isinstance(answer, str) or ":execution:" not in answer:
        raise NotYet(f"`answer` should be {what} (the string helpers.workflows.start returns, "
                     f"arn:aws:states:...:execution:...); got {_short(answer)}.")
    sfn = aws.client("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=answer)
    except ClientError as error:
        raise NotYet(f"There is no execution {answer}: {error.response['Error']['Code']}.")
    if described["status"] == "RUNNING":
        described = executions.wait(aws, answer)
    machine = sfn.describe_state_machine_for_execution(executionArn=answer)
    return described, json.loads(machine["definition"])


def _whole_number(answer, what: str):
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise NotYet(f"`answer` should be {what}; got {_short(answer)}.")


def _training_task(definition: dict) -> tuple[str, dict]:
    tasks = [(name, state) for name, state in all_states(definition).items()
             if TRAINING_RESOURCE in state.get("Resource", "")]
    if not tasks:
        raise NotYet("The workflow you ran has no training task (a Task whose Resource is "
                     "arn:aws:states:::sagemaker:createTrainingJob.sync).")
    return tasks[0]


def _entered(aws, execution_arn: str) -> list[str]:
    """The states an execution entered, in order."""
    return [event["stateEnteredEventDetails"]["name"] for event in
            executions.events(aws, execution_arn) if event["type"].endswith("StateEntered")]


def _why_it_failed(aws, execution_arn: str) -> str:
    failures = executions.failures(aws, execution_arn)
    if failures.empty:
        return "the history records no failed task"
    last = failures.iloc[-1]
    return f"{last['state']} failed with {last['error']}: {str(last['reason'])[:300]}"


def _expect_status(aws, described: dict, wanted: str, then: str = ""):
    if described["status"] != wanted:
        detail = (f" ({_why_it_failed(aws, described['executionArn'])})"
                  if described["status"] == "FAILED" else "")
        raise NotYet(f"The execution ended {described['status']}{detail}; it should end "
                     f"{wanted}{then}.")


def _error_list(retry_or_catch: dict) -> list[str]:
    return list(retry_or_catch.get("ErrorEquals", []))


def _training_job_of(output: dict) -> dict:
    if not isinstance(output, dict) or "TrainingJobName" not in output:
        raise NotYet("The execution's output is not a training job's description.")
    return output


# ---- 00 · Setup --------------------------------------------------------------------------------

@exercise("00.1", "iam:PassRole for one role, to one service",
          "a policy statement (a dict with Effect, Action, Resource and Condition)")
def _pass_role_statement(aws, answer, feedback):
    if not isinstance(answer, dict):
        raise NotYet(f"`answer` should be a policy statement, a dict like {{'Effect': 'Allow', "
                     f"'Action': ..., 'Resource': ..., 'Condition': ...}}; got {_short(answer)}.")
    names = Names.from_aws(aws)
    if answer.get("Effect") != "Allow":
        feedback.problems.append(f"Effect is {answer.get('Effect')!r}: the statement must "
                                 "'Allow' the pass, or the workflow cannot start a job at all.")
    actions = answer.get("Action", [])
    actions = [actions] if isinstance(actions, str) else list(actions)
    if "iam:PassRole" not in actions:
        feedback.problems.append(f"Action is {actions}: the permission to hand a role to a "
                                 "service is 'iam:PassRole'.")
    elif len(actions) > 1:
        others = sorted(set(actions) - {"iam:PassRole"})
        feedback.problems.append(f"The statement also allows {others}: keep it to "
                                 "'iam:PassRole' alone.")
    resources = answer.get("Resource", [])
    resources = [resources] if isinstance(resources, str) else list(resources)
    if "*" in resources:
        feedback.problems.append("Resource is '*': the workflow could then hand *any* role of the "
                                 "account, an administrator's too, to SageMaker. Name the "
                                 f"SageMaker execution role's ARN: {names.sagemaker_role_arn}.")
    elif names.workflow_role_arn in resources:
        feedback.problems.append("Resource names the Step Functions role itself; the role the "
                                 "workflow passes to SageMaker is the SageMaker execution role, "
                                 f"{names.sagemaker_role_arn}.")
    elif resources != [names.sagemaker_role_arn]:
        feedback.problems.append(f"Resource is {resources}; it should be exactly the SageMaker "
                                 f"execution role's ARN, {names.sagemaker_role_arn}.")
    passed_to = answer.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService")
    if passed_to is None:
        feedback.problems.append("No Condition: add {'StringEquals': {'iam:PassedToService': "
                                 "'sagemaker.amazonaws.com'}} so the role can be passed to "
                                 "SageMaker only, not to another service.")
    elif passed_to != "sagemaker.amazonaws.com":
        feedback.problems.append(f"The Condition lets the role go to {passed_to!r}; the service "
                                 "that uses it is 'sagemaker.amazonaws.com'.")
    if feedback.passed:
        feedback.notes.append("This is the statement the Step Functions role already has: one "
                              "role, one service. Without it, CreateTrainingJob fails with "
                              "AccessDenied on iam:PassRole.")


@exercise("00.2", "Who may assume the SageMaker execution role?",
          "the service principal (a string) read from the role's trust policy")
def _trust_principal(aws, answer, feedback):
    if not isinstance(answer, str):
        raise NotYet(f"`answer` should be a string such as 'example.amazonaws.com'; "
                     f"got {_short(answer)}.")
    role = aws.client("iam").get_role(RoleName=config.SAGEMAKER_ROLE)["Role"]
    document = role["AssumeRolePolicyDocument"]
    if isinstance(document, str):
        document = json.loads(document)
    principals = []
    for statement in document["Statement"]:
        service = statement.get("Principal", {}).get("Service", [])
        principals += [service] if isinstance(service, str) else service
    if answer in principals:
        feedback.notes.append(f"{answer} assumes the role when a training job starts; the job "
                              "then acts with the role's permissions (its policy), nothing more.")
    elif answer == "states.amazonaws.com":
        feedback.problems.append("states.amazonaws.com assumes the *Step Functions* role, "
                                 f"{config.WORKFLOW_ROLE}; look at {config.SAGEMAKER_ROLE}'s "
                                 "trust policy.")
    elif answer.startswith("arn:"):
        feedback.problems.append(f"{answer} is an ARN; a trust policy names a *service* "
                                 "principal, a name ending in '.amazonaws.com'.")
    else:
        feedback.problems.append(f"{answer!r} is not in the trust policy; it says "
                                 "Principal → Service → ... (read get_role's "
                                 "AssumeRolePolicyDocument).")


# ---- 01 · The container ------------------------------------------------------------------------

def _opt_ml(answer) -> Path:
    if not isinstance(answer, (str, Path)) or not Path(answer).is_dir():
        raise NotYet("`answer` should be the directory you ran `local_train` in (a Path); got "
                     f"{_short(answer)}.")
    path = Path(answer)
    if not (path / "input" / "config" / "hyperparameters.json").exists():
        raise NotYet(f"{path} has no input/config/hyperparameters.json: is it the directory you "
                     "passed to helpers.container.local_train?")
    return path


@exercise("01.1", "A tree with 2 leaves", "the directory you trained in (a Path)")
def _two_leaves(aws, answer, feedback):
    path = _opt_ml(answer)
    leaves = json.loads((path / "input/config/hyperparameters.json").read_text()).get(
        "max_leaf_nodes")
    if leaves != "2":
        feedback.problems.append(f"You trained with max_leaf_nodes = {leaves!r}; the exercise "
                                 "asks for \"2\" (a string, as SageMaker passes every "
                                 "hyperparameter).")
    failure = path / "output" / "failure"
    model_file = path / "model" / "decision-tree-model.pkl"
    if failure.exists():
        raise NotYet(f"Training failed: {failure.read_text()[:300]}")
    if not model_file.exists():
        raise NotYet(f"No model in {path / 'model'}: did `local_train` run to the end?")
    with model_file.open("rb") as stream:
        model = pickle.load(stream)  # the learner's own model, written by `train` just now
    iris = data.read_csv("iris.csv")
    accuracy = float((model.predict(iris.iloc[:, 1:].to_numpy()) == iris.iloc[:, 0]).mean())
    feedback.notes.append(f"The tree has {model.get_n_leaves()} leaves and classifies "
                          f"{accuracy:.0%} of iris correctly: with 2 leaves it can tell only two "
                          "groups apart, and iris has three species.")


@exercise("01.2", "Break the data, read the failure",
          "the directory you trained the broken CSV in (a Path)")
def _broken_csv(aws, answer, feedback):
    path = _opt_ml(answer)
    failure = path / "output" / "failure"
    if not failure.exists():
        raise NotYet(f"Training in {path} succeeded (there is no output/failure): the CSV you "
                     "trained on has no bad value. Put a word in place of a number in its "
                     "second row.")
    reason = failure.read_text()
    if "row 2," not in reason:
        feedback.problems.append(f"The failure says {reason!r}: that is not the second row. The "
                                 "exercise asks for the word in row 2.")
    if "is not a number" not in reason:
        feedback.problems.append(f"The failure says {reason!r}; the exercise asks for a word "
                                 "where a number should be.")
    if feedback.passed:
        feedback.notes.append(f"`train` wrote: {reason} SageMaker reads this file into the "
                              "job's FailureReason, which is what the workflow's Catch sees.")


# ---- 02 · The training data --------------------------------------------------------------------

@exercise("02.1", "How many rows does a channel read?",
          "a number: the rows the next training job would read with a second copy of iris.csv "
          "in the training prefix")
def _rows_with_a_copy(aws, answer, feedback):
    _whole_number(answer, "a whole number of rows")
    rows = len(data.read_csv("iris.csv"))
    if answer == rows:
        feedback.problems.append(f"{rows} is one file's rows. A channel's S3DataType is "
                                 "S3Prefix: the job gets *every* object under the prefix, so "
                                 "both copies.")
    elif answer != 2 * rows:
        feedback.problems.append(f"{answer} is neither file's count: iris.csv has {rows} rows, "
                                 "and the job would read both files.")
    extra = data.strays(aws)
    if extra:
        feedback.problems.append(f"{extra} is still in the training prefix: delete it, or every "
                                 "later training job trains on it too.")
    if feedback.passed:
        feedback.notes.append(f"{2 * rows} rows: every object under the prefix, duplicates "
                              "included, and the copy is gone again.")


@exercise("02.2", "A channel for the wine data",
          "the S3 URI (s3://bucket/prefix/) a training channel would read the wine data from")
def _wine_channel(aws, answer, feedback):
    if not isinstance(answer, str) or not answer.startswith("s3://"):
        raise NotYet(f"`answer` should be an S3 URI such as s3://bucket/prefix/; "
                     f"got {_short(answer)}.")
    bucket, _, prefix = answer[len("s3://"):].partition("/")
    if bucket != aws.bucket:
        raise NotYet(f"{bucket!r} is not the series' bucket ({aws.bucket}).")
    if prefix == data.TRAINING_PREFIX or data.TRAINING_PREFIX.startswith(prefix):
        raise NotYet(f"{answer} holds (or contains) the iris training data: a job reading it "
                     "would mix iris and wine rows and fail on their different widths. Give wine "
                     "its own prefix.")
    keys = [uri.split("/", 3)[3] for uri in data.list_objects(aws, prefix)["object"]]
    if not keys:
        raise NotYet(f"Nothing is stored under {answer}: upload wine.csv there first "
                     "(helpers.data.upload takes a prefix).")
    if not prefix.endswith("/"):
        feedback.problems.append(f"End the prefix with '/': {answer!r} also matches any key "
                                 f"that merely starts with {prefix!r}.")
    s3 = aws.client("s3")
    widths = {len(s3.get_object(Bucket=bucket, Key=key)["Body"].readline().split(b","))
              for key in keys}
    wine_width = data.read_csv("wine.csv").shape[1]
    if widths != {wine_width}:
        feedback.problems.append(f"The files under {answer} have {sorted(widths)} columns; "
                                 f"wine.csv has {wine_width}. Only wine belongs there.")
    if feedback.passed:
        feedback.notes.append(f"{len(keys)} object(s) under {answer}, all wine: notebook 05 "
                              "trains on exactly this kind of URI.")


# ---- 03 · The training workflow ----------------------------------------------------------------

@exercise("03.1", "A job named after the state machine and the execution",
          AN_EXECUTION)
def _named_jobs(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    name, task = _training_task(definition)
    parameters = task.get("Parameters", {})
    if "TrainingJobName" in parameters:
        raise NotYet(f"{name}'s TrainingJobName is the literal text "
                     f"{parameters['TrainingJobName']!r}: without '.$' at the end of the key, "
                     "Step Functions does not evaluate it. Pass it as helpers.sdk.Intrinsic(...).")
    expression = parameters.get("TrainingJobName.$", "")
    for needed in ("$$.StateMachine.Name", "$$.Execution.Name"):
        if needed not in expression:
            feedback.problems.append(f"The job name {expression!r} does not use {needed}.")
    _expect_status(aws, described, "SUCCEEDED")
    job = _training_job_of(executions.output(described))["TrainingJobName"]
    machine = described["stateMachineArn"].rsplit(":", 1)[-1]
    if feedback.passed:
        feedback.notes.append(f"The job is {job}: {len(job)} of SageMaker's 63 characters "
                              f"({len(machine)} for the state machine, {len(described['name'])} "
                              "for the execution).")


@exercise("03.2", "Hyperparameters on the training task", AN_EXECUTION)
def _task_hyperparameters(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    name, task = _training_task(definition)
    hyperparameters = task.get("Parameters", {}).get("HyperParameters", {})
    if not isinstance(hyperparameters, dict) or "max_leaf_nodes" not in hyperparameters:
        raise NotYet(f"{name} sets no max_leaf_nodes (its HyperParameters are "
                     f"{_short(hyperparameters)}): set step.parameters['HyperParameters'].")
    value = hyperparameters["max_leaf_nodes"]
    if not isinstance(value, str):
        raise NotYet(f"max_leaf_nodes is {value!r}, a {type(value).__name__}: SageMaker takes "
                     "hyperparameters as strings only, so CreateTrainingJob is rejected. Write "
                     f"\"{value}\".")
    if value != "3":
        feedback.problems.append(f"max_leaf_nodes is {value!r}; the exercise asks for \"3\".")
    _expect_status(aws, described, "SUCCEEDED")
    job = _training_job_of(executions.output(described))
    if feedback.passed:
        feedback.notes.append(f"{job['TrainingJobName']} trained with "
                              f"{job['HyperParameters']}: the Task passes them to "
                              "CreateTrainingJob, and SageMaker writes them to "
                              "/opt/ml/input/config/hyperparameters.json.")


# ---- 04 · Retry, Catch, SNS, Fail --------------------------------------------------------------

@exercise("04.1", "A Retry for States.Timeout", AN_EXECUTION)
def _timeout_retry(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    name, task = _training_task(definition)
    if "TimeoutSeconds" not in task:
        feedback.problems.append(f"{name} has no TimeoutSeconds, so it never times out and a "
                                 "Retry for States.Timeout can never fire. Pass "
                                 "timeout_seconds=60.")
    retriers = task.get("Retry", [])
    for retrier in retriers:
        if _error_list(retrier) == ["States.ALL"]:
            feedback.problems.append("Your Retry catches States.ALL; the task asked for "
                                     "States.Timeout only (States.ALL would also retry a job "
                                     "that failed on bad data).")
    on_timeout = [r for r in retriers if "States.Timeout" in _error_list(r)]
    if not on_timeout:
        feedback.problems.append(f"No Retry of {name} lists States.Timeout (its retriers match "
                                 f"{[_error_list(r) for r in retriers]}).")
    elif _error_list(on_timeout[0]) != ["States.Timeout"]:
        others = [e for e in _error_list(on_timeout[0]) if e != "States.Timeout"]
        feedback.problems.append(f"The Retry for States.Timeout also matches {others}; the task "
                                 "asked for States.Timeout only.")
    if not any(_error_list(r) == ["SageMaker.AmazonSageMakerException"] for r in retriers):
        feedback.problems.append("The document's Retry for SageMaker.AmazonSageMakerException is "
                                 "gone: keep it and add the new one.")
    _expect_status(aws, described, "SUCCEEDED")
    if feedback.passed:
        feedback.notes.append(f"TimeoutSeconds {task['TimeoutSeconds']}: a job still running "
                              "then fails the state with States.Timeout, and your Retry starts "
                              "a new one (the running job is not stopped: on AWS, stop it "
                              "yourself or it keeps billing).")


@exercise("04.2", "Retrying a failed training job", AN_EXECUTION)
def _task_failed_retry(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    name, task = _training_task(definition)
    on_failure = [r for r in task.get("Retry", []) if "States.TaskFailed" in _error_list(r)]
    if not on_failure:
        raise NotYet(f"No Retry of {name} lists States.TaskFailed.")
    if on_failure[0].get("MaxAttempts", 3) != 1:
        feedback.problems.append(f"MaxAttempts is {on_failure[0].get('MaxAttempts', 3)} "
                                 "(3 when left out); the exercise asks for one retry.")
    job_name = task.get("Parameters", {}).get("TrainingJobName.$", "")
    if "$$.State.RetryCount" not in job_name:
        feedback.problems.append(f"The job name {job_name!r} does not include "
                                 "$$.State.RetryCount: the retry asks for a job with the failed "
                                 "job's name, which SageMaker rejects. Start from "
                                 "training_retry_notify_detailed.")
    jobs = sorted(job["TrainingJobName"] for job in aws.client("sagemaker").list_training_jobs(
        NameContains=described["name"])["TrainingJobSummaries"])
    if described["status"] == "SUCCEEDED":
        raise NotYet("The execution succeeded: run it with the malformed data in the training "
                     "prefix (helpers.data.temporarily_added(aws, 'iris_malformed.csv')).")
    if len(jobs) != 2:
        feedback.problems.append(f"{len(jobs)} training job(s) ran ({jobs}); one try plus one "
                                 "retry make two.")
    if "Notify Failure" not in _entered(aws, described["executionArn"]):
        feedback.problems.append("The failure was not announced: the Catch should still lead "
                                 "to Notify Failure after the retry.")
    if feedback.passed:
        feedback.notes.append(f"Two jobs, {jobs[0]} and {jobs[1]}, both failed the same way: "
                              "bad data stays bad, so retrying States.TaskFailed only costs "
                              "another job (and, on AWS, its instance time).")


# ---- 05 · Input parameters ---------------------------------------------------------------------

@exercise("05.1", "Wine with two leaves", AN_EXECUTION)
def _wine_two_leaves(aws, answer, feedback):
    described, _ = _execution(aws, answer)
    machine = described["stateMachineArn"].rsplit(":", 1)[-1]
    if machine != config.STATE_MACHINE_PREFIX + "training-parameters":
        raise NotYet(f"That execution ran {machine}; run the §3 state machine, "
                     f"{config.STATE_MACHINE_PREFIX}training-parameters.")
    given = json.loads(described["input"])
    if not given.get("TrainingDataUri", "").endswith(data.WINE_PREFIX):
        feedback.problems.append(f"It trained on {given.get('TrainingDataUri')}; the wine data "
                                 f"is under {data.training_uri(aws, data.WINE_PREFIX)}.")
    leaves = given.get("Hyperparameters", {}).get("max_leaf_nodes")
    if leaves != "2":
        feedback.problems.append(f"max_leaf_nodes was {leaves!r}; the exercise asks for \"2\".")
    _expect_status(aws, described, "SUCCEEDED")
    metrics = {m["MetricName"]: m["Value"] for m in
               executions.output(described).get("FinalMetricDataList", [])}
    if feedback.passed:
        feedback.notes.append(f"train:accuracy {metrics.get('train:accuracy', float('nan')):.2f} "
                              "with 2 leaves: at most two of wine's three classes can be told "
                              "apart, so a third of the rows or so must be wrong.")


@exercise("05.2", "The longest ModelPrefix",
          "a number: the longest ModelPrefix that fits with a 24-character execution name")
def _longest_prefix(aws, answer, feedback):
    from . import inputs  # here: it imports the SageMaker SDK, which the early notebooks skip
    _whole_number(answer, "a whole number of characters")
    execution_name = "x" * 24
    longest = inputs.JOB_NAME_LIMIT - 1 - len(execution_name)
    if answer == longest + 1:
        feedback.problems.append(f"With {answer} characters the job name is {answer} + 1 (the "
                                 f"'-' of '{{}}-{{}}') + 24 = {answer + 25}: one over SageMaker's "
                                 f"{inputs.JOB_NAME_LIMIT}.")
    elif answer != longest:
        feedback.problems.append(f"The job name is ModelPrefix + '-' + the execution name and "
                                 f"may have {inputs.JOB_NAME_LIMIT} characters; {answer} is "
                                 f"{'too long' if answer > longest else 'shorter than need be'}.")
    if feedback.passed:
        fits = inputs.training_input(aws, "p" * longest, {})
        over = dict(fits, ModelPrefix="p" * (longest + 1))
        problem = inputs.problems(over, aws.bucket, execution_name).get("ModelPrefix")
        feedback.notes.append(f"{longest} + 1 + 24 = {inputs.JOB_NAME_LIMIT}. One more "
                              f"character and validate says: {problem}")


# ---- 06 · Several models -----------------------------------------------------------------------

def _gate(states: dict, after: str, passes_to_type: str | None, passes_to_name: str | None,
          feedback):
    """The accuracy gate after state `after`: a Choice on validation accuracy >= 0.9 whose
    rule leads on and whose Default is a Fail state."""
    gate_name = states.get(after, {}).get("Next")
    gate = states.get(gate_name, {})
    if gate.get("Type") != "Choice":
        raise NotYet(f"After {after!r} comes {gate_name!r} ({gate.get('Type', 'the end')}); the "
                     "gate is a Choice state right after it.")
    rules = gate.get("Choices", [])
    threshold_rules = [r for r in rules if any(k.startswith("Numeric") for k in r)]
    if not threshold_rules:
        raise NotYet(f"{gate_name} has no numeric rule; use "
                     "ChoiceRule.NumericGreaterThanEquals(variable, 0.9).")
    rule = threshold_rules[0]
    operator = next(k for k in rule if k.startswith("Numeric"))
    if operator != "NumericGreaterThanEquals":
        feedback.problems.append(f"The rule uses {operator}; 'at least 0.9' is "
                                 "NumericGreaterThanEquals.")
    if rule[operator] != 0.9:
        feedback.problems.append(f"The threshold is {rule[operator]}; the exercise says 0.9.")
    variable = rule.get("Variable", "")
    if "FinalMetricDataList[1]" not in variable or not variable.endswith(".Value"):
        feedback.problems.append(f"The rule reads {variable!r}; validation:accuracy is "
                                 "FinalMetricDataList[1].Value of the training job.")
    target = states.get(rule.get("Next"), {})
    if passes_to_type and target.get("Type") != passes_to_type:
        feedback.problems.append(f"A good model goes to {rule.get('Next')!r} "
                                 f"({target.get('Type')}); it should go to a {passes_to_type} "
                                 "state.")
    if passes_to_name and rule.get("Next") != passes_to_name:
        feedback.problems.append(f"A good model goes to {rule.get('Next')!r}; it should go on "
                                 f"to {passes_to_name!r}.")
    default = gate.get("Default")
    if default is None:
        feedback.problems.append("The Choice has no Default: a model below 0.9 then fails the "
                                 "execution with States.NoChoiceMatched instead of your Fail "
                                 "state.")
    elif states.get(default, {}).get("Type") != "Fail":
        feedback.problems.append(f"The Default goes to {default!r}, not to a Fail state.")
    return gate_name, default


@exercise("06.1", "A gate after the Map", AN_EXECUTION)
def _gate_after_map(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    states = all_states(definition)
    maps = [name for name, state in definition["States"].items() if state["Type"] == "Map"]
    if not maps:
        raise NotYet("The workflow you ran has no Map state: start from "
                     "helpers.workflows.train_multiple.")
    _, default = _gate(states, maps[0], "Succeed", None, feedback)
    first_set = (json.loads(described["input"]).get("HyperparameterSets") or [{}])[0]
    if first_set.get("max_leaf_nodes") != "2":
        feedback.problems.append(f"The first hyperparameter set was {first_set}; run it with "
                                 "{'max_leaf_nodes': '2'} first, so the gate has something to "
                                 "stop.")
    elif described["status"] != "FAILED" or default not in _entered(aws, answer):
        feedback.problems.append(f"The execution ended {described['status']} without entering "
                                 f"{default!r}: a 2-leaf tree should not pass a 0.9 gate.")
    if feedback.passed:
        feedback.notes.append(f"The 2-leaf model was stopped at the gate: the execution FAILED "
                              f"in {default!r}, so nothing after it would deploy that model.")


@exercise("06.2", "One job at a time", AN_EXECUTION)
def _serial_map(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    maps = {name: state for name, state in definition["States"].items()
            if state["Type"] == "Map"}
    if not maps:
        raise NotYet("The workflow you ran has no Map state: start from "
                     "helpers.workflows.train_multiple.")
    concurrency = next(iter(maps.values())).get("MaxConcurrency", 0)
    if concurrency == 0:
        feedback.problems.append("MaxConcurrency is 0 (or left out), which means *no limit*, "
                                 "not none at a time; set it to 1.")
    elif concurrency != 1:
        feedback.problems.append(f"MaxConcurrency is {concurrency}; the exercise asks for 1.")
    _expect_status(aws, described, "SUCCEEDED")
    jobs = executions.output(described).get("MapResults", [])
    if len(jobs) < 2:
        raise NotYet(f"The Map trained {len(jobs)} model(s): give it at least two sets to see "
                     "them run one after the other.")
    spans = sorted((job["TrainingStartTime"], job["TrainingEndTime"], job["TrainingJobName"])
                   for job in jobs)
    overlapping = [(a[2], b[2]) for a, b in zip(spans, spans[1:]) if b[0] < a[1]]
    if overlapping:
        feedback.problems.append(f"These jobs ran at the same time: {overlapping}.")
    if feedback.passed:
        feedback.notes.append(f"{len(jobs)} Map jobs, each starting after the previous ended; "
                              "helpers.executions.timeline shows it.")


# ---- 07 · Train and host -----------------------------------------------------------------------

@exercise("07.1", "An accuracy gate before deploying", AN_EXECUTION)
def _gate_before_model(aws, answer, feedback):
    described, definition = _execution(aws, answer)
    states = all_states(definition)
    training = next((name for name, state in definition["States"].items()
                     if TRAINING_RESOURCE in state.get("Resource", "")), None)
    if training is None or "Create model" not in states:
        raise NotYet("The workflow you ran is not §5's: start from "
                     "helpers.workflows.train_and_host.")
    _, default = _gate(states, training, None, "Create model", feedback)
    leaves = states[training].get("Parameters", {}).get("HyperParameters", {}).get(
        "max_leaf_nodes")
    entered = _entered(aws, answer)
    if leaves != "2":
        feedback.problems.append(f"The model was trained with max_leaf_nodes {leaves!r}; train "
                                 "it with \"2\", so the gate has something to stop.")
    elif "Create model" in entered:
        feedback.problems.append("The 2-leaf model went on to Create model: the gate let it "
                                 "through.")
    elif default not in entered:
        feedback.problems.append(f"The execution never reached {default!r}: "
                                 f"{_why_it_failed(aws, answer)}.")
    if feedback.passed:
        feedback.notes.append(f"Stopped at {default!r}: no model, no endpoint configuration, and "
                              "the endpoint kept serving the previous model.")


@exercise("07.2", "What the container says about three features",
          "a number: the HTTP status the container answered")
def _three_features(aws, answer, feedback):
    _whole_number(answer, "an HTTP status code (a number)")
    runtime = aws.client("sagemaker-runtime")
    try:
        runtime.invoke_endpoint(EndpointName=config.ENDPOINT_NAME, ContentType="text/csv",
                                Body=b"5.1,3.5,1.4\n")
        raise NotYet("The endpoint answered three features without an error: is it serving "
                     "the series' model?")
    except runtime.exceptions.ModelError as error:
        status = error.response["OriginalStatusCode"]
        message = error.response["OriginalMessage"]
    except ClientError as error:
        raise NotYet(f"invoke_endpoint failed with {error.response['Error']['Code']}: is "
                     f"{config.ENDPOINT_NAME} in service? (Run the notebook's deploy first.)")
    if answer == 424:
        feedback.problems.append("424 is what SageMaker answers *you* (ModelError: Failed "
                                 "Dependency); the container's own status is in the error's "
                                 "OriginalStatusCode.")
    elif answer != status:
        feedback.problems.append(f"{answer} is not what the container answered; read "
                                 "error.response['OriginalStatusCode'].")
    if feedback.passed:
        feedback.notes.append(f"{status}: {message.strip()[:200]}")


# ---- 99 · Clean up -----------------------------------------------------------------------------

@exercise("99.1", "What the clean-up leaves",
          "a number: how many training jobs of the series remain")
def _jobs_left(aws, answer, feedback):
    _whole_number(answer, "a whole number of training jobs")
    jobs = cleanup.series_training_jobs(aws)
    if answer != len(jobs):
        feedback.problems.append(f"{answer} is not it: count the training jobs whose RoleArn is "
                                 f"the series' role, {config.SAGEMAKER_ROLE} (other jobs of the "
                                 "account are not the series').")
    if feedback.passed:
        feedback.notes.append(f"{len(jobs)} jobs stay: SageMaker has no DeleteTrainingJob. A "
                              "finished job costs nothing; its model in S3 and its log stream "
                              "(deleted above) would.")


@exercise("99.2", "What comes back", "the list helpers.cleanup.plan(aws) returns after you "
          "rebuilt notebook 00's resources")
def _what_comes_back(aws, answer, feedback):
    if not isinstance(answer, list):
        raise NotYet(f"`answer` should be the list plan(aws) returns; got {_short(answer)}.")
    now = cleanup.plan(aws)
    kinds = {kind for kind, _ in now}
    if not now:
        raise NotYet("plan(aws) finds nothing right now: rebuild notebook 00's resources "
                     "first (helpers.rebuild(aws, upto='prerequisites')), then plan.")
    if sorted(map(tuple, answer)) != sorted(now):
        feedback.problems.append(f"Your list differs from what plan(aws) finds now "
                                 f"({len(answer)} vs {len(now)} items): plan again after the "
                                 "rebuild, and check before you delete.")
    for needed in ("IAM role", "SNS topic", "S3 bucket"):
        if needed not in kinds:
            feedback.problems.append(f"No {needed} is back: notebook 00 creates it.")
    if feedback.passed:
        feedback.notes.append(f"Back: {sorted(kinds)}. Not back: state machines, models and the "
                              "image: later notebooks make those, and a rebuild up to 00 does "
                              "not.")
