"""Using a hosted model: send rows to the endpoint, compare predictions with the truth, and
delete the endpoint (which, on AWS, bills for every hour it exists)."""
from __future__ import annotations

import pandas as pd

from .config import ENDPOINT_NAME


def predict(aws, features: pd.DataFrame, endpoint_name: str = ENDPOINT_NAME) -> list[str]:
    """One prediction per row, from InvokeEndpoint with the rows as text/csv."""
    response = aws.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint_name, ContentType="text/csv",
        Body=features.to_csv(header=False, index=False).encode())
    return response["Body"].read().decode().split()


def evaluate(aws, labelled: pd.DataFrame, endpoint_name: str = ENDPOINT_NAME):
    """(accuracy, confusion matrix) of the endpoint on rows whose first column is the label."""
    truth = labelled.iloc[:, 0].reset_index(drop=True)
    predicted = pd.Series(predict(aws, labelled.iloc[:, 1:], endpoint_name), name="predicted")
    confusion = pd.crosstab(truth.rename("true label"), predicted)
    return float((truth == predicted).mean()), confusion


def delete_endpoint(aws, endpoint_name: str = ENDPOINT_NAME) -> str:
    """Delete the endpoint if it exists (its configurations and models stay, and cost nothing)."""
    sagemaker = aws.client("sagemaker")
    try:
        sagemaker.delete_endpoint(EndpointName=endpoint_name)
    except sagemaker.exceptions.ClientError as error:
        if "Could not find endpoint" not in str(error):
            raise
        return f"{endpoint_name}: no such endpoint"
    return f"{endpoint_name}: deleted"
