"""Exercises that check themselves: `helpers.exercises.check(aws, "04.1", answer)`.

Each notebook ends with exercises; each has an id ("<notebook>.<number>") and a checker in this
package's module for that notebook (`notebook_04.py`, ...). The learner's cell sets `answer` (an
execution's ARN, a definition's piece, a number, a directory) and calls `check`, which looks at
the real thing through the API (the execution's definition and history, the training job, the
endpoint) and answers with what is right and what is not, in words about the exercise: never a
bare pass or fail. The checkers use API calls only, so they work on both backends.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field


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


# Each notebook's checkers (notebook_NN.py) register themselves when their module is imported.
for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("notebook_"):
        importlib.import_module(f".{_module.name}", __name__)
