"""Settings, from environment variables with defaults (the README's Configuration table lists
them: TUTORIAL_BACKEND, TUTORIAL_REGION, TUTORIAL_BUCKET, TUTORIAL_TOPIC, TUTORIAL_LOCAL_PORT,
TUTORIAL_STATE_DIR, TUTORIAL_LOCAL_MAX_TRAINING_JOBS). Nothing here talks to AWS."""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("local", "aws")
POLICY_CHOICES = ("scoped", "document")

# Names the document uses; the series keeps them so its JSON reads the same.
DATA_PREFIX = "sagemaker_bring_your_own"
IMAGE_REPOSITORY = "sagemaker-bring-your-own"
SAGEMAKER_ROLE = "u-SageMakerExecutionRole"
WORKFLOW_ROLE = "u-StepFunctionsExecutionWithSageMakerTask"
STATE_MACHINE_PREFIX = "sagemaker-byo-"
# Instance types. Locally nothing bills, and the definitions keep the document's training type;
# on AWS the defaults are the cheapest types that run this container (helpers.costs has prices).
# TUTORIAL_TRAINING_INSTANCE_TYPE / TUTORIAL_ENDPOINT_INSTANCE_TYPE override either.
TRAINING_INSTANCE_TYPE = "ml.c4.2xlarge"  # the document's
ENDPOINT_INSTANCE_TYPE = "ml.m5.large"
AWS_TRAINING_INSTANCE_TYPE = "ml.m5.large"
AWS_ENDPOINT_INSTANCE_TYPE = "ml.t2.medium"
INSTANCE_TYPE_PATTERN = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
# §5's resources: the one endpoint it creates, then updates, and a model and an endpoint
# configuration per run, named <prefix><execution name>.
ENDPOINT_NAME = STATE_MACHINE_PREFIX + "endpoint"
MODEL_PREFIX, CONFIG_PREFIX = "byo-model-", "byo-config-"
# Notebook 10's tuning jobs: tune-<execution name> (SageMaker allows 32 characters).
TUNING_JOB_PREFIX = "tune-"
# Where SageMaker writes the containers' output (CloudWatch Logs).
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDPOINT_LOG_GROUP = f"/aws/sagemaker/Endpoints/{ENDPOINT_NAME}"
# Everything the series creates carries this tag, so that a user (and the clean-up) can find it.
SERIES_TAG_KEY, SERIES_TAG_VALUE = "created-by", "sagemaker-step-functions-tutorial"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    backend: str
    region: str
    bucket: str | None  # None: derived from the account id and region once known
    topic: str
    local_port: int
    state_dir: Path
    policies: str = "scoped"  # the roles' policies: "scoped" (least privilege) or "document"
    training_instance_type: str = TRAINING_INSTANCE_TYPE
    endpoint_instance_type: str = ENDPOINT_INSTANCE_TYPE

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    def rows(self) -> list[tuple[str, str]]:
        values = asdict(self)
        values["bucket"] = self.bucket or "(derived: sfn-sagemaker-tutorial-<account>-<region>)"
        values["local_port"] = self.local_port or "(any free port)"
        # No path of this machine in a notebook: the repository-relative one, or the variable.
        values["state_dir"] = (str(self.state_dir.relative_to(REPO_ROOT))
                               if self.state_dir.is_relative_to(REPO_ROOT)
                               else "(TUTORIAL_STATE_DIR)")
        return [(key, str(value)) for key, value in values.items()]


def settings() -> Settings:
    """Read the settings now (so a changed environment variable takes effect at once)."""
    backend = os.environ.get("TUTORIAL_BACKEND", "local").strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"TUTORIAL_BACKEND must be one of {', '.join(BACKENDS)}; "
                          f"got {backend!r}.")
    region = (os.environ.get("TUTORIAL_REGION") or os.environ.get("AWS_REGION")
              or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    port = os.environ.get("TUTORIAL_LOCAL_PORT", "0") or "0"
    if not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"TUTORIAL_LOCAL_PORT must be a port number; got {port!r}.")
    policies = os.environ.get("TUTORIAL_POLICIES", "scoped").strip().lower()
    if policies not in POLICY_CHOICES:
        raise ConfigError(f"TUTORIAL_POLICIES must be one of {', '.join(POLICY_CHOICES)}; "
                          f"got {policies!r}.")
    return Settings(
        backend=backend, region=region, bucket=os.environ.get("TUTORIAL_BUCKET") or None,
        topic=os.environ.get("TUTORIAL_TOPIC", "sagemaker-workflow-alerts"),
        local_port=int(port),
        state_dir=Path(os.environ.get("TUTORIAL_STATE_DIR") or REPO_ROOT / ".local-aws"),
        policies=policies,
        training_instance_type=_instance_type("TUTORIAL_TRAINING_INSTANCE_TYPE", backend == "aws",
                                              AWS_TRAINING_INSTANCE_TYPE, TRAINING_INSTANCE_TYPE),
        endpoint_instance_type=_instance_type("TUTORIAL_ENDPOINT_INSTANCE_TYPE", backend == "aws",
                                              AWS_ENDPOINT_INSTANCE_TYPE, ENDPOINT_INSTANCE_TYPE))


def _instance_type(variable: str, on_aws: bool, aws_default: str, local_default: str) -> str:
    value = os.environ.get(variable, "").strip() or (aws_default if on_aws else local_default)
    if not INSTANCE_TYPE_PATTERN.match(value):
        raise ConfigError(f"{variable} must be a SageMaker instance type such as "
                          f"{aws_default}; got {value!r}.")
    return value


def default_bucket(account_id: str, region: str) -> str:
    return f"sfn-sagemaker-tutorial-{account_id}-{region}"


def table(current: Settings | None = None):
    """The settings as a two-column table, for a notebook to show."""
    import pandas as pd
    return pd.DataFrame((current or settings()).rows(), columns=["setting", "value"])
