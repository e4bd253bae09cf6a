"""Reading the label-first, header-less CSV files of a channel, with errors that say where."""
import csv
import io
import math
from array import array
from pathlib import Path

import numpy as np


class DataError(ValueError):
    """Bad training data; the message names the channel, file and row."""


def parse_rows(lines, source, has_label=True):
    """Parse CSV lines into (features, labels): a row is `label,feature1,...` or, without
    has_label, just the features (labels is then empty). Features are collected in one flat
    array of doubles, so memory stays close to the data's own size even for millions of rows."""
    first = 1 if has_label else 0
    values, labels, known_labels, width = array("d"), [], {}, None
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
            features = [float(cell) for cell in row[first:]]
        except ValueError:
            column = next(i for i in range(first, len(row)) if not _is_number(row[i]))
            bad = row[column]
            hint = (" (is the first row a header? the files must have none)"
                    if row_number == 1 else "")
            raise DataError(f"{source}, row {row_number}, column {column + 1}: {bad!r} is not a "
                            f"number{hint}.") from None
        if any(math.isnan(value) for value in features):
            raise DataError(f"{source}, row {row_number}: a feature is missing (NaN).")
        values.extend(features)
        if has_label:
            label = row[0].strip()
            labels.append(known_labels.setdefault(label, label))  # one string per class
    columns = (width or first + 1) - first
    return np.frombuffer(values, dtype=np.float64).reshape(-1, columns), labels


def _is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _first_bad_byte(path: Path) -> int:
    """Where a file stops being UTF-8 (read again only on this error path)."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start
    return -1


def load_channel(data_dir, channel):
    """Read every file of one channel; raise DataError naming the first problem found."""
    channel_dir = Path(data_dir) / channel
    files = sorted(p for p in channel_dir.rglob("*") if p.is_file()) if channel_dir.is_dir() else []
    if not files:
        raise DataError(f"Channel '{channel}' has no files (expected CSV files in {channel_dir}).")
    feature_blocks, labels = [], []
    for path in files:
        source = f"{channel}/{path.relative_to(channel_dir)}"
        with open(path, encoding="utf-8", newline="") as text:
            try:
                file_features, file_labels = parse_rows(text, source)
            except UnicodeDecodeError:
                raise DataError(f"{source}: not UTF-8 text (byte {_first_bad_byte(path)}).") \
                    from None
        if feature_blocks and len(file_labels) and \
                file_features.shape[1] != feature_blocks[0].shape[1]:
            raise DataError(f"{source}: has {file_features.shape[1]} features, earlier files "
                            f"have {feature_blocks[0].shape[1]}.")
        if len(file_labels):
            feature_blocks.append(file_features)
            labels += file_labels
    if not labels:
        raise DataError(f"Channel '{channel}' has files but no rows.")
    return np.concatenate(feature_blocks), np.array(labels)
