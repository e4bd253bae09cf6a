"""The two SDKs, imported once, with their import-time side effects undone.

- `import sagemaker` prints two `sagemaker.config INFO` lines and a V2 deprecation warning;
- `import stepfunctions` sets the root logger to ERROR (hiding everyone's warnings).
"""
from __future__ import annotations

import logging
import os
import warnings

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
_root_level = logging.getLogger().level
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import sagemaker  # noqa: E402
    from sagemaker.estimator import Estimator  # noqa: E402,F401
    from sagemaker.inputs import TrainingInput  # noqa: E402,F401
    from stepfunctions import steps  # noqa: E402,F401
    from stepfunctions.inputs import ExecutionInput, Placeholder  # noqa: E402,F401
    from stepfunctions.workflow import Workflow  # noqa: E402,F401
logging.getLogger().setLevel(_root_level)
logging.getLogger("stepfunctions").setLevel(logging.WARNING)


class _WorkflowConfigOnly(logging.Filter):
    """TrainingStep.get_expected_model() warns that the estimator has no finished job, "make sure
    this estimator is only used for building workflow config": that is exactly our use."""

    def filter(self, record):
        return "only used for building workflow config" not in record.getMessage()


logging.getLogger("sagemaker.estimator").addFilter(_WorkflowConfigOnly())


class Intrinsic(Placeholder):
    """A parameter value computed by Step Functions, e.g. an intrinsic function.

    The SDK has placeholders only for paths into the input ($.x) or a step's result. This one
    emits any expression, so `TrainingStep(job_name=Intrinsic("States.Format(...)"))` produces
    `"TrainingJobName.$": "States.Format(...)"`.
    """

    def __init__(self, expression: str):
        super().__init__(schema=None)
        self.expression = expression

    def to_jsonpath(self) -> str:
        return self.expression


class Retry(steps.Retry):
    """The SDK's Retry with the two fields Step Functions added in 2023, which stepfunctions 2.3.0
    does not know: `max_delay_seconds` (MaxDelaySeconds, a cap on the growing wait) and
    `jitter_strategy` (JitterStrategy: "FULL" waits a random time between 0 and the computed
    wait, so that many executions rejected at once do not all retry at once; "NONE", the default,
    waits exactly). https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
    """

    NEWER_FIELDS = ("max_delay_seconds", "jitter_strategy")

    def is_field_allowed(self, field_name):
        return field_name in self.NEWER_FIELDS or super().is_field_allowed(field_name)


def sagemaker_session(boto_session):
    """A SageMaker SDK session over the given boto3 session (used only to build definitions)."""
    return sagemaker.Session(boto_session=boto_session)
