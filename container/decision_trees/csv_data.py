"""Reading the label-first, header-less CSV files of a channel, with errors that say where."""
import csv
import io
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """Bad training data; the message names the channel, file and row."""


def parse_rows(lines, source, has_label=True):
    """Parse CSV lines into (features, labels); a row is `label,feature1,...` or, without
    has_label, just the features (labels is then empty)."""
    first = 1 if has_label else 0
    features, labels, width = [], [], None
    for row_number, row in enumerate(csv.reader(lines), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry no data
        if width is None:
            width = len(row)
            if width < first + 1:
                raise DataError(f"{source}, row {row_number}: expected a label and at least one "
                                f"feature, found {width} column.")
        if len(row) != width:
            raise DataError(f"{source}, row {row_number}: expected {width} columns like the "
                            f"first row, found {len(row)}.")
        try:
            features.append([float(cell) for cell in row[first:]])
        except ValueError:
            column = next(i for i in range(first, len(row)) if not _is_number(row[i]))
            bad = row[column]
            column += 1
            hint = (" (is the first row a header? the files must have none)"
                    if row_number == 1 else "")
            raise DataError(f"{source}, row {row_number}, column {column}: {bad!r} is not a "
                            f"number{hint}.") from None
        if any(np.isnan(value) for value in features[-1]):
            raise DataError(f"{source}, row {row_number}: a feature is missing (NaN).")
        if has_label:
            labels.append(row[0].strip())
    return features, labels


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def load_channel(data_dir, channel):
    """Read every file of one channel; raise DataError naming the first problem found."""
    channel_dir = Path(data_dir) / channel
    files = sorted(p for p in channel_dir.rglob("*") if p.is_file()) if channel_dir.is_dir() else []
    if not files:
        raise DataError(f"Channel '{channel}' has no files (expected CSV files in {channel_dir}).")
    features, labels = [], []
    for path in files:
        source = f"{channel}/{path.relative_to(channel_dir)}"
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataError(f"{source}: not UTF-8 text (byte {error.start}).") from None
        file_features, file_labels = parse_rows(io.StringIO(text), source)
        if features and file_features and len(file_features[0]) != len(features[0]):
            raise DataError(f"{source}: has {len(file_features[0])} features, earlier files "
                            f"have {len(features[0])}.")
        features += file_features
        labels += file_labels
    if not labels:
        raise DataError(f"Channel '{channel}' has files but no rows.")
    return np.array(features), np.array(labels)
