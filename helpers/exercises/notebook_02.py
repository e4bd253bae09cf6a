"""The exercises of notebook 02 · The training data."""
from __future__ import annotations

from .. import data
from . import NotYet, exercise
from .common import short, whole_number


@exercise("02.1", "How many rows does a channel read?",
          "a number: the rows the next training job would read with a second copy of iris.csv "
          "in the training prefix")
def _rows_with_a_copy(aws, answer, feedback):
    whole_number(answer, "a whole number of rows")
    rows = len(data.read_csv("iris.csv"))
    if answer == rows:
        feedback.problems.append(f"{rows} is one file's rows. A channel's S3DataType is "
                                 "S3Prefix: the job gets *every* object under the prefix, so "
                                 "both copies.")
    elif answer != 2 * rows:
        feedback.problems.append(f"{answer} is neither file's count: iris.csv has {rows} rows, "
                                 "and the job would read both files.")
    extra = data.strays(aws)
    if extra:
        feedback.problems.append(f"{extra} is still in the training prefix: delete it, or every "
                                 "later training job trains on it too.")
    if feedback.passed:
        feedback.notes.append(f"{2 * rows} rows: every object under the prefix, duplicates "
                              "included, and the copy is gone again.")


@exercise("02.2", "A channel for the wine data",
          "the S3 URI (s3://bucket/prefix/) a training channel would read the wine data from")
def _wine_channel(aws, answer, feedback):
    if not isinstance(answer, str) or not answer.startswith("s3://"):
        raise NotYet(f"`answer` should be an S3 URI such as s3://bucket/prefix/; "
                     f"got {short(answer)}.")
    bucket, _, prefix = answer[len("s3://"):].partition("/")
    if bucket != aws.bucket:
        raise NotYet(f"{bucket!r} is not the series' bucket ({aws.bucket}).")
    if prefix == data.TRAINING_PREFIX or data.TRAINING_PREFIX.startswith(prefix):
        raise NotYet(f"{answer} holds (or contains) the iris training data: a job reading it "
                     "would mix iris and wine rows and fail on their different widths. Give wine "
                     "its own prefix.")
    keys = [uri.split("/", 3)[3] for uri in data.list_objects(aws, prefix)["object"]]
    if not keys:
        raise NotYet(f"Nothing is stored under {answer}: upload wine.csv there first "
                     "(helpers.data.upload takes a prefix).")
    if not prefix.endswith("/"):
        feedback.problems.append(f"End the prefix with '/': {answer!r} also matches any key "
                                 f"that merely starts with {prefix!r}.")
    s3 = aws.client("s3")
    widths = {len(s3.get_object(Bucket=bucket, Key=key)["Body"].readline().split(b","))
              for key in keys}
    wine_width = data.read_csv("wine.csv").shape[1]
    if widths != {wine_width}:
        feedback.problems.append(f"The files under {answer} have {sorted(widths)} columns; "
                                 f"wine.csv has {wine_width}. Only wine belongs there.")
    if feedback.passed:
        feedback.notes.append(f"{len(keys)} object(s) under {answer}, all wine: notebook 05 "
                              "trains on exactly this kind of URI.")


