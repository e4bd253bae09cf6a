"""The datasets shipped in data/, and putting them where the workflows read them."""
from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd

from . import config

DATA_DIR = config.REPO_ROOT / "data"
TRAINING_PREFIX = f"{config.DATA_PREFIX}/input/data/train/"
# §3's second dataset, and §4's held-out split of iris (channel -> prefix).
WINE_PREFIX = f"{config.DATA_PREFIX}/input/data/wine/"
SPLIT_PREFIXES = {"training": f"{config.DATA_PREFIX}/input/data/split/train/",
                  "validation": f"{config.DATA_PREFIX}/input/data/split/validation/"}
OUTPUT_PREFIX = f"{config.DATA_PREFIX}/output/models"


def training_uri(aws, prefix: str = TRAINING_PREFIX) -> str:
    return f"s3://{aws.bucket}/{prefix}"


def read_csv(name: str) -> pd.DataFrame:
    """A label-first, header-less CSV from data/, with readable column names."""
    frame = pd.read_csv(DATA_DIR / name, header=None)
    frame.columns = ["label"] + [f"feature_{i}" for i in range(1, frame.shape[1])]
    return frame


def upload(aws, files=("iris.csv",), prefix: str = TRAINING_PREFIX) -> pd.DataFrame:
    """Upload shipped CSV files under s3://<bucket>/<prefix>; a table of what is there now."""
    s3 = aws.client("s3")
    for name in files:
        s3.upload_file(str(DATA_DIR / name), aws.bucket, prefix + Path(name).name)
    return list_objects(aws, prefix)


def split(name: str = "iris.csv", validation_fraction: float = 0.3):
    """A deterministic, stratified split of a shipped CSV: (training rows, validation rows)."""
    frame = pd.read_csv(DATA_DIR / name, header=None)
    validation = frame.groupby(0, group_keys=False).sample(frac=validation_fraction,
                                                           random_state=0)
    return frame.drop(validation.index), validation


def upload_split(aws, name: str = "iris.csv") -> pd.DataFrame:
    """Upload the split of a shipped CSV as the training and validation channels' data."""
    s3 = aws.client("s3")
    for (channel, prefix), rows in zip(SPLIT_PREFIXES.items(), split(name)):
        body = rows.to_csv(header=False, index=False).encode()
        s3.put_object(Bucket=aws.bucket, Key=f"{prefix}{name}", Body=body)
    return pd.concat([list_objects(aws, prefix) for prefix in SPLIT_PREFIXES.values()],
                     ignore_index=True)


def list_objects(aws, prefix: str) -> pd.DataFrame:
    s3 = aws.client("s3")
    rows = [(f"s3://{aws.bucket}/{item['Key']}", item["Size"], item["LastModified"])
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.bucket,
                                                                      Prefix=prefix)
            for item in page.get("Contents", [])]
    return pd.DataFrame(rows, columns=["object", "bytes", "last modified"])


def strays(aws) -> list[str]:
    """Objects in the training prefix besides the series' iris.csv (left by an experiment):
    every training job on the prefix would read them too."""
    return [uri for uri in list_objects(aws, TRAINING_PREFIX)["object"]
            if not uri.endswith("/iris.csv")]


@contextlib.contextmanager
def temporarily_added(aws, name: str, prefix: str = TRAINING_PREFIX):
    """Put a shipped file under the training prefix for the duration of a `with` block, then
    remove it again, whatever happens inside (e.g. to make one training run fail on purpose)."""
    key = prefix + Path(name).name
    aws.client("s3").upload_file(str(DATA_DIR / name), aws.bucket, key)
    try:
        yield f"s3://{aws.bucket}/{key}"
    finally:
        aws.client("s3").delete_object(Bucket=aws.bucket, Key=key)
