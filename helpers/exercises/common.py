"""What the checkers share: reading what the learner made through the API."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from .. import executions
from ..graph import all_states
from . import NotYet

TRAINING_RESOURCE = "createTrainingJob"
AN_EXECUTION = "the ARN of the execution you ran"


def short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def finished_execution(aws, answer, what: str = AN_EXECUTION) -> tuple[dict, dict]:
    """The finished execution and the definition it ran (waiting for it if it still runs)."""
    if not isinstance(answer, str) or ":execution:" not in answer:
        raise NotYet(f"`answer` should be {what} (the string helpers.workflows.start returns, "
                     f"arn:aws:states:...:execution:...); got {short(answer)}.")
    sfn = aws.client("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=answer)
    except ClientError as error:
        raise NotYet(f"There is no execution {answer}: {error.response['Error']['Code']}.")
    if described["status"] == "RUNNING":
        described = executions.wait(aws, answer)
    machine = sfn.describe_state_machine_for_execution(executionArn=answer)
    return described, json.loads(machine["definition"])


def whole_number(answer, what: str):
    if isinstance(answer, bool) or not isinstance(answer, int):
        raise NotYet(f"`answer` should be {what}; got {short(answer)}.")


def training_task(definition: dict) -> tuple[str, dict]:
    tasks = [(name, state) for name, state in all_states(definition).items()
             if TRAINING_RESOURCE in state.get("Resource", "")]
    if not tasks:
        raise NotYet("The workflow you ran has no training task (a Task whose Resource is "
                     "arn:aws:states:::sagemaker:createTrainingJob.sync).")
    return tasks[0]


def states_entered(aws, execution_arn: str) -> list[str]:
    """The states an execution entered, in order."""
    return [event["stateEnteredEventDetails"]["name"] for event in
            executions.events(aws, execution_arn) if event["type"].endswith("StateEntered")]


def why_it_failed(aws, execution_arn: str) -> str:
    failures = executions.failures(aws, execution_arn)
    if failures.empty:
        return "the history records no failed task"
    last = failures.iloc[-1]
    return f"{last['state']} failed with {last['error']}: {str(last['reason'])[:300]}"


def expect_status(aws, described: dict, wanted: str, then: str = ""):
    if described["status"] != wanted:
        detail = (f" ({why_it_failed(aws, described['executionArn'])})"
                  if described["status"] == "FAILED" else "")
        raise NotYet(f"The execution ended {described['status']}{detail}; it should end "
                     f"{wanted}{then}.")


def error_list(retry_or_catch: dict) -> list[str]:
    return list(retry_or_catch.get("ErrorEquals", []))


def training_job_of(output: dict) -> dict:
    if not isinstance(output, dict) or "TrainingJobName" not in output:
        raise NotYet("The execution's output is not a training job's description.")
    return output


# The validation accuracy, read by its metric name: a Choice's Variable cannot filter a list,
# so a Pass state picks the value first (Parameters paths can filter; ArrayGetItem takes the one
# match out of the list the filter returns).
VALIDATION_ACCURACY = "validation:accuracy"


def accuracy_gate(states: dict, after: str, passes_to_type: str | None, passes_to_name: str | None,
                  feedback):
    """The accuracy gate after state `after`: a Pass that reads the validation accuracy from
    FinalMetricDataList by its name, then a Choice on it (>= 0.9) whose rule leads on and whose
    Default is a Fail state."""
    gate_name = states.get(after, {}).get("Next")
    gate = states.get(gate_name, {})
    if gate.get("Type") == "Pass":
        read = json.dumps(gate.get("Parameters", {}))
        if VALIDATION_ACCURACY not in read or "FinalMetricDataList" not in read:
            feedback.problems.append(f"{gate_name!r} should read the validation accuracy from "
                                     "FinalMetricDataList by its name, 'validation:accuracy'.")
        gate_name = gate.get("Next")
        gate = states.get(gate_name, {})
    else:
        feedback.problems.append(
            f"Read validation:accuracy by its name, not by its place in FinalMetricDataList: "
            f"a Pass state between {after!r} and the Choice picks it (the exercise shows how).")
    if gate.get("Type") != "Choice":
        raise NotYet(f"After {after!r} comes {gate_name!r} ({gate.get('Type', 'the end')}); the "
                     "gate is a Pass state that reads the accuracy, then a Choice state.")
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


def newest_successful_run(aws, workflow_name: str) -> dict:
    """The description of the newest SUCCEEDED execution of the series' workflow
    sagemaker-byo-<workflow_name> (what the notebook's own cells ran)."""
    from .. import config
    sfn = aws.client("stepfunctions")
    arn = (f"arn:aws:states:{aws.region}:{aws.account_id}:stateMachine:"
           f"{config.STATE_MACHINE_PREFIX}{workflow_name}")
    try:
        runs = sfn.list_executions(stateMachineArn=arn, statusFilter="SUCCEEDED")["executions"]
    except sfn.exceptions.StateMachineDoesNotExist:
        runs = []
    if not runs:
        raise NotYet(f"There is no successful run of {config.STATE_MACHINE_PREFIX}"
                     f"{workflow_name} yet: run the notebook's cells from the top first.")
    newest = max(runs, key=lambda run: run["startDate"])
    return executions.describe(aws, newest["executionArn"])


def number_of_leaves(answer) -> int:
    """A learner's answer that names a tree's max_leaf_nodes, as an int."""
    try:
        return int(answer)
    except (TypeError, ValueError):
        raise NotYet(f"`answer` should be a number of leaves, like 4; got {short(answer)}.")
