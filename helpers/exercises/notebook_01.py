"""The exercises of notebook 01 · The container."""
from __future__ import annotations

import json
import pickle
from pathlib import Path

from .. import data
from . import NotYet, exercise
from .common import short


def _opt_ml(answer) -> Path:
    if not isinstance(answer, (str, Path)) or not Path(answer).is_dir():
        raise NotYet("`answer` should be the directory you ran `local_train` in (a Path); got "
                     f"{short(answer)}.")
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


