"""Moving S3 objects into and out of a job's folder, as SageMaker does around a container.

Every place where an object key (or a name from a request) becomes a file path goes through
`contained_path`: a key that would leave its folder (`..` segments, an absolute path, a NUL) is
refused with `UnsafePath`, before anything is written, so a hostile or careless dataset cannot make
a job write outside its folder.
"""
from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath


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
    archive = Path(work_dir) / PurePosixPath(key).name
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(Path(source).iterdir()):
            tar.add(path, arcname=path.name)
    s3.upload_file(str(archive), bucket, key)
    return uri


def extract_archive(archive: Path, target: Path):
    """Unpack a model archive; tarfile's "data" filter refuses members that would leave `target`
    (absolute paths, `..`, links pointing outside)."""
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
