"""The names of one deployment: account, region, bucket, topic, and every ARN and URI built
from them. Definitions, prerequisites and the container all take their names from here."""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import config, data


@dataclass(frozen=True)
class Names:
    """Everything deployment-specific that a definition mentions."""
    account_id: str
    region: str
    bucket: str
    topic: str
    training_instance_type: str = config.TRAINING_INSTANCE_TYPE
    endpoint_instance_type: str = config.ENDPOINT_INSTANCE_TYPE

    @classmethod
    def from_aws(cls, aws) -> "Names":
        return cls(aws.account_id, aws.region, aws.bucket, aws.settings.topic,
                   aws.settings.training_instance_type, aws.settings.endpoint_instance_type)

    @property
    def instance_types(self) -> list[str]:
        return sorted({self.training_instance_type, self.endpoint_instance_type})

    def with_overrides(self, **overrides) -> "Names":
        return replace(self, **{k: v for k, v in overrides.items() if v})

    @property
    def image_uri(self) -> str:
        return f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com/{config.IMAGE_REPOSITORY}"

    def role_arn(self, role_name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:role/{role_name}"

    @property
    def sagemaker_role_arn(self) -> str:
        return self.role_arn(config.SAGEMAKER_ROLE)

    @property
    def workflow_role_arn(self) -> str:
        return self.role_arn(config.WORKFLOW_ROLE)

    @property
    def topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.account_id}:{self.topic}"

    @property
    def training_data_uri(self) -> str:
        return f"s3://{self.bucket}/{data.TRAINING_PREFIX}"

    @property
    def output_path(self) -> str:
        return f"s3://{self.bucket}/{data.OUTPUT_PREFIX}"
