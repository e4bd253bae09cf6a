"""Moving S3 objects into and out of a job's folder, as SageMaker does around a container.

This module is the one place where an object key, an archive member's name or a name from a
request (a channel) becomes a file path, for every job kind (training, hosting, and any other that
downloads or unpacks S3 data): `contained_path`, `channel_folder`, `download_prefix` and
`extract_archive`. A key or name that would leave its folder (`..` segments, an absolute path, a
NUL; in an archive also links and devices) is refused with `UnsafePath`, before anything is
written, so a hostile or careless dataset cannot make a job write outside its folder. The caller
turns `UnsafePath` into the job's `ClientError: ...` FailureReason (`client_error`).
"""
from __future__ import annotations

import re
import tarfile
from pathlib import Path, PurePosixPath

# CreateTrainingJob's Channel.ChannelName (and the other SageMaker channel names): "Length
# Constraints: Minimum length of 1. Maximum length of 64. Pattern: [A-Za-z0-9\.\-_]+"
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_Channel.html). The pattern lets
# `.` and `..` through; as folder names they would not be a folder of their own, so they are
# refused too (SageMaker's S3ModelDataSource documents the same rule for names it makes folders of).
CHANNEL_NAME_PATTERN = r"[A-Za-z0-9\.\-_]+"
CHANNEL_NAME_MAX = 64


class UnsafePath(ValueError):
    """A key or name that would put a file outside its folder."""


def parse_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key/prefix -> (bucket, key/prefix)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def contained_path(root: Path, relative: str, label: str | None = None) -> Path:
    """`root / relative`, refusing anything that would not stay inside `root`. `label` names the
    offending key or name in the error (default: `relative` itself)."""
    label = (label or f"'{relative}'").replace("\x00", "\\x00")
    parts = PurePosixPath(relative or "").parts
    if not relative or "\x00" in relative or "\\" in relative \
            or PurePosixPath(relative).is_absolute() or any(p in ("..", ".") for p in parts):
        raise UnsafePath(f"{label} would be written outside its folder (an empty, absolute or "
                         "'..' path, or a NUL or backslash character)")
    root = Path(root).resolve()
    path = (root / Path(*parts)).resolve()
    if not path.is_relative_to(root) or path == root:  # e.g. through a symbolic link
        raise UnsafePath(f"{label} would be written outside its folder")
    return path


def channel_problem(name) -> str | None:
    """Why `name` is not a valid channel name (AWS's constraint, in AWS's words), or None."""
    if not isinstance(name, str) or not 1 <= len(name) <= CHANNEL_NAME_MAX:
        return f"Member must have length between 1 and {CHANNEL_NAME_MAX}"
    if not re.fullmatch(CHANNEL_NAME_PATTERN, name):
        return f"Member must satisfy regular expression pattern: {CHANNEL_NAME_PATTERN}"
    if name in (".", ".."):
        return "Member must not be '.' or '..' (it names no folder of its own)"
    return None


def channel_folder(root: Path, name: str) -> Path:
    """The folder of channel `name` under `root` (e.g. /opt/ml/input/data/<name>), refusing a
    name that is not a valid channel name or would leave `root`."""
    problem = channel_problem(name)
    if problem:
        raise UnsafePath(f"The channel name '{name}' is invalid: {problem}")
    return contained_path(root, name, f"The channel name '{name}'")


def client_error(what: str, error: UnsafePath) -> str:
    """A job's FailureReason for a refused key or name, shaped as SageMaker writes its own
    (`ClientError: <what>: <why>.`)."""
    return f"ClientError: {what}: {str(error).rstrip('.')}."


def planned_downloads(s3, uri: str, target: Path) -> list[tuple[str, Path]]:
    """(key, path) for every object under `uri`, with SageMaker's S3Prefix semantics: an
    object's path below the prefix's last '/' is kept (with the prefix data/train/, the object
    data/train/x.csv lands at <target>/x.csv; with the prefix data/tr, at <target>/train/x.csv).
    Raises UnsafePath, before anything is written, if a key would leave `target`."""
    bucket, prefix = parse_uri(uri)
    folder = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    planned = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/"):
                continue  # a "folder" marker, not data
            relative = item["Key"][len(folder):]
            planned.append((item["Key"], contained_path(target, relative,
                                                        f"The object key '{item['Key']}'")))
    return planned


def download_prefix(s3, uri: str, target: Path) -> int:
    """Download every object under `uri` into `target` (see `planned_downloads`). Returns how
    many objects were downloaded."""
    bucket, _ = parse_uri(uri)
    planned = planned_downloads(s3, uri, target)
    for key, destination in planned:
        destination.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(destination))
    return len(planned)


def upload_folder(s3, source: Path, uri: str) -> list[str]:
    """Upload every file under `source` to `uri`/<its path below source> (what SageMaker does with
    a processing job's outputs). Returns the URIs written."""
    bucket, prefix = parse_uri(uri)
    prefix = prefix.rstrip("/")
    written = []
    root = Path(source).resolve()
    for path in sorted(p for p in Path(source).rglob("*") if p.is_file()):
        if not path.resolve().is_relative_to(root):  # a link to a file outside the folder
            raise UnsafePath(f"'{path.relative_to(source)}' links to a file outside its folder")
        key = "/".join(filter(None, [prefix, path.relative_to(source).as_posix()]))
        s3.upload_file(str(path), bucket, key)
        written.append(f"s3://{bucket}/{key}")
    return written


def upload_archive(s3, source: Path, uri: str, work_dir: Path) -> str:
    """Archive the contents of `source` as a .tar.gz (entries relative to it, as SageMaker writes
    model.tar.gz) and upload it to `uri`. Returns the URI."""
    bucket, key = parse_uri(uri)
    archive = contained_path(work_dir, PurePosixPath(key).name, f"The object key '{key}'")
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(Path(source).iterdir()):
            tar.add(path, arcname=path.name)
    s3.upload_file(str(archive), bucket, key)
    return uri


def extract_archive(archive: Path, target: Path, label: str = "The archive"):
    """Unpack a model archive into `target`. Only regular files and folders are unpacked, with
    names inside `target`: a member with an absolute name, a `..` segment or a NUL, a symbolic or
    hard link (even one pointing inside: a later member could write through it) or a device is
    refused with UnsafePath naming it, before anything is unpacked. tarfile's "data" filter then
    checks each member again as it is written."""
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            where = f"{label} has a member '{member.name}' that"
            if not (member.isfile() or member.isdir()):
                raise UnsafePath(f"{where} is a link or a special file, which is not unpacked")
            if member.isdir() and not PurePosixPath(member.name).parts:
                continue  # "./", the archive's own top folder
            contained_path(target, member.name, where.removesuffix(" that"))
        tar.extractall(target, members=members, filter="data")
