"""The exercises of notebook 06 · Several models."""
from __future__ import annotations

import json

from .. import executions
from ..graph import all_states
from . import NotYet, exercise
from .common import AN_EXECUTION, accuracy_gate, expect_status, finished_execution, states_entered


@exercise("06.1", "A gate after the Map", AN_EXECUTION)
def _gate_after_map(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    states = all_states(definition)
    maps = [name for name, state in definition["States"].items() if state["Type"] == "Map"]
    if not maps:
        raise NotYet("The workflow you ran has no Map state: start from "
                     "helpers.workflows.train_multiple.")
    _, default = accuracy_gate(states, maps[0], "Succeed", None, feedback)
    first_set = (json.loads(described["input"]).get("HyperparameterSets") or [{}])[0]
    if first_set.get("max_leaf_nodes") != "2":
        feedback.problems.append(f"The first hyperparameter set was {first_set}; run it with "
                                 "{'max_leaf_nodes': '2'} first, so the gate has something to "
                                 "stop.")
    elif described["status"] != "FAILED" or default not in states_entered(aws, answer):
        feedback.problems.append(f"The execution ended {described['status']} without entering "
                                 f"{default!r}: a 2-leaf tree should not pass a 0.9 gate.")
    if feedback.passed:
        feedback.notes.append(f"The 2-leaf model was stopped at the gate: the execution FAILED "
                              f"in {default!r}, so nothing after it would deploy that model.")


@exercise("06.2", "One job at a time", AN_EXECUTION)
def _serial_map(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
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
    expect_status(aws, described, "SUCCEEDED")
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


