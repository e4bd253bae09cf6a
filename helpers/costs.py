"""The cost guard: before a workflow that starts billable instances runs on AWS, say what it will
create and roughly what that costs, from the definition's instance types.

Prices are SageMaker on-demand list prices in us-east-1 (https://aws.amazon.com/sagemaker/pricing/,
checked for this series in 2026); other regions differ by a few tens of percent. Training bills per
second while a job runs; an endpoint bills every hour it exists, used or not. Locally nothing
bills: the guard then only says what the same run would cost on AWS.
"""
from __future__ import annotations

import pandas as pd

from . import config
from .graph import all_states, branches_of

TRAINING_PRICE_PER_HOUR = {"ml.m5.large": 0.115, "ml.m5.xlarge": 0.23, "ml.c5.xlarge": 0.204,
                           "ml.c4.2xlarge": 0.478, "ml.c5.2xlarge": 0.408}
HOSTING_PRICE_PER_HOUR = {"ml.t2.medium": 0.056, "ml.m5.large": 0.115, "ml.c5.large": 0.102,
                          "ml.m5.xlarge": 0.23, "ml.c4.2xlarge": 0.557}
TYPICAL_JOB_MINUTES = 5  # instance start-up and download dominate this container's jobs
CREATE_TRAINING = "createTrainingJob"
CREATE_ENDPOINT_CONFIG = "createEndpointConfig"
CREATE_TUNING = "createHyperParameterTuningJob"


def tuning_jobs(parameters: dict) -> int:
    """How many training jobs a CreateHyperParameterTuningJob request launches at most (a grid
    without MaxNumberOfTrainingJobs: one per combination of its categorical values)."""
    tuning_config = parameters.get("HyperParameterTuningJobConfig", {})
    limit = tuning_config.get("ResourceLimits", {}).get("MaxNumberOfTrainingJobs")
    if limit:
        return limit
    combinations = 1
    for spec in tuning_config.get("ParameterRanges", {}).get("CategoricalParameterRanges", []):
        combinations *= len(spec.get("Values", [])) or 1
    return combinations


def estimate(definition: dict, map_items: int = 1) -> pd.DataFrame:
    """One row per billable thing the definition creates: training jobs (a Map's counted
    `map_items` times) and endpoints, with the hourly price and a typical cost."""
    rows = []
    in_map = {name for state in all_states(definition).values() if state["Type"] == "Map"
              for branch in branches_of(state) for name in all_states(branch)}
    for name, state in all_states(definition).items():
        resource, parameters = state.get("Resource", ""), state.get("Parameters", {})
        if CREATE_TRAINING in resource:
            resources = parameters.get("ResourceConfig", {})
            instance = resources.get("InstanceType", "?")
            jobs = map_items if name in in_map else 1
            minutes = jobs * resources.get("InstanceCount", 1) * TYPICAL_JOB_MINUTES
            hourly = TRAINING_PRICE_PER_HOUR.get(instance)
            rows.append((name, f"{jobs} training job(s)", instance, hourly,
                         f"{minutes} instance-minutes",
                         None if hourly is None else hourly * minutes / 60))
        elif CREATE_TUNING in resource:  # the tuning job bills its training jobs only
            resources = parameters.get("TrainingJobDefinition", {}).get("ResourceConfig", {})
            instance, jobs = resources.get("InstanceType", "?"), tuning_jobs(parameters)
            minutes = jobs * resources.get("InstanceCount", 1) * TYPICAL_JOB_MINUTES
            hourly = TRAINING_PRICE_PER_HOUR.get(instance)
            rows.append((name, f"{jobs} training job(s) of a tuning job", instance, hourly,
                         f"{minutes} instance-minutes",
                         None if hourly is None else hourly * minutes / 60))
        elif CREATE_ENDPOINT_CONFIG in resource:
            for variant in parameters.get("ProductionVariants", []):
                hourly = HOSTING_PRICE_PER_HOUR.get(variant["InstanceType"])
                rows.append((name, f"{variant['InitialInstanceCount']} endpoint instance(s)",
                             variant["InstanceType"], hourly, "every hour until deleted",
                             None if hourly is None else hourly * 24))
    return pd.DataFrame(rows, columns=["state", "creates", "instance type", "$ per hour",
                                       "billed for", "typical $ (endpoint: per day)"])


def summary(definition: dict, map_items: int = 1,
            heading: str = "This run creates, on AWS:") -> str:
    table = estimate(definition, map_items)
    if table.empty:
        return "Nothing in this workflow bills by the hour."
    lines = []
    for row in table.itertuples(index=False):
        price = "price unknown here" if row[3] is None else f"${row[3]:.3f}/h"
        lines.append(f"- {row.state}: {row.creates} on {row[2]} ({price}), billed for {row[4]}")
    unknown = table["$ per hour"].isna().any()
    typical = table["typical $ (endpoint: per day)"].sum()
    total = ("" if unknown else f" Typical cost of one run: about ${typical:.2f}"
             + (" per day while the endpoint exists." if "endpoint" in " ".join(table["creates"])
                else "."))
    return "\n".join([heading] + lines) + "\n" + total.strip()


def guard(aws, definition: dict, map_items: int = 1) -> str:
    """What `workflows.start` prints before an execution on AWS (locally: what it would cost)."""
    if aws.settings.is_local:
        return summary(definition, map_items, heading=(
            "Nothing bills on the local backend. On AWS, with these instance types, this run "
            f"would create (the AWS defaults are {config.AWS_TRAINING_INSTANCE_TYPE} for "
            f"training, {config.AWS_ENDPOINT_INSTANCE_TYPE} for endpoints):"))
    text = summary(definition, map_items)
    return text + ("\nDelete what keeps billing when you are done: notebook 99, or "
                   "`python -m helpers cleanup`." if "endpoint" in text else "")
