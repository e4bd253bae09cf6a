"""The exercises of notebook 08 · Batch transform."""
from __future__ import annotations

from botocore.exceptions import ClientError

from .. import more_workflows
from ..graph import all_states
from . import NotYet, exercise
from .common import AN_EXECUTION, expect_status, finished_execution, short, whole_number

SPECIES = {"setosa", "versicolor", "virginica"}


def _output_of(aws, execution_arn: str):
    try:
        job = more_workflows.transform_of(aws, execution_arn)
        return job, more_workflows.read_predictions(aws, job)
    except LookupError as error:
        raise NotYet(f"No transform job output: {error}.") from None
    except ClientError as error:
        raise NotYet(f"The transform job's output could not be read "
                     f"({error.response['Error']['Code']}): did it score "
                     f"{more_workflows.HELD_OUT_FILE}?") from None


@exercise("08.1", "Keep the features next to the prediction", AN_EXECUTION)
def _keep_the_features(aws, answer, feedback):
    described, definition = finished_execution(aws, answer)
    expect_status(aws, described, "SUCCEEDED")
    tasks = [state for state in all_states(definition).values()
             if "createTransformJob" in state.get("Resource", "")]
    if not tasks:
        raise NotYet("The workflow you ran has no batch transform (a TransformStep).")
    job, table = _output_of(aws, answer)
    processing = job.get("DataProcessing", {})
    if processing.get("JoinSource") != "Input":
        feedback.problems.append("The predictions are not joined to their input rows: give "
                                 "the TransformStep join_source=\"Input\".")
    elif table.shape[1] != 6:
        feedback.problems.append(
            f"Each output row has {table.shape[1]} column(s) (OutputFilter "
            f"{processing.get('OutputFilter')!r}); the label, the four features and the "
            "prediction make 6: output_filter=\"$\" keeps the whole joined row.")
    elif not set(table.iloc[:, 0]) <= SPECIES:
        feedback.problems.append("The first column is not the label: the joined row starts "
                                 "with the whole input row (label first), before InputFilter.")
    if feedback.passed:
        feedback.notes.append(f"{len(table)} rows: label, 4 features, prediction. The model "
                              "saw only the features (InputFilter $[1:]).")


@exercise("08.2", "How many rows did the model get wrong?",
          "a number: the rows of the held-out file whose prediction is not their label")
def _wrong_rows(aws, answer, feedback):
    whole_number(answer, "a number of rows")
    latest = more_workflows.latest_successful_run(aws, "batch-transform")
    if latest is None:
        raise NotYet("There is no successful run of sagemaker-byo-batch-transform yet: run the "
                     "notebook's workflow first.")
    _, table = _output_of(aws, latest)
    wrong = int((table.iloc[:, 0] != table.iloc[:, -1]).sum())
    if answer == len(table) - wrong:
        feedback.problems.append(f"{answer} is how many it got right; the question is how many "
                                 "it got wrong.")
    elif answer != wrong:
        feedback.problems.append(f"{short(answer)} is not it: compare the first column (the "
                                 "label) with the last (the prediction) of the latest run's "
                                 "output.")
    if feedback.passed:
        feedback.notes.append(f"{wrong} of {len(table)} held-out rows: accuracy "
                              f"{(len(table) - wrong) / len(table):.1%}.")
