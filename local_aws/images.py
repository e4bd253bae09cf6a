"""Container images of the local AWS: an ECR image whose manifest points at a directory of programs.

There is no Docker engine here, so "pushing" the bring-your-own image means putting an image into
(local) ECR whose manifest carries one annotation: the directory holding the image's `train` and
`serve` programs. SageMaker resolves `<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag]` to that
directory and runs the programs from it, the way `docker run IMAGE train` would.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

PROGRAM_DIR_ANNOTATION = "tutorial.local/program-dir"
IMAGE_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[a-z0-9._/-]+?)(?::(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]{64}))?$")


class ImageNotFound(LookupError):
    pass


def local_image_manifest(program_dir: Path) -> str:
    """An OCI manifest for a local image: no layers, just where its programs are."""
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 0,
                   "digest": "sha256:" + "0" * 64},
        "layers": [],
        "annotations": {PROGRAM_DIR_ANNOTATION: str(Path(program_dir).resolve())},
    }, sort_keys=True)


def resolve_program_dir(ecr_client, image_uri: str) -> Path:
    """The directory holding the image's programs; ImageNotFound says why there is none."""
    match = IMAGE_URI.match(image_uri or "")
    if not match:
        raise ImageNotFound(f"Invalid TrainingImage '{image_uri}': expected "
                            "<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:tag].")
    image_id = ({"imageDigest": match["digest"]} if match["digest"]
                else {"imageTag": match["tag"] or "latest"})
    try:
        images = ecr_client.batch_get_image(repositoryName=match["repo"],
                                            imageIds=[image_id])["images"]
    except ecr_client.exceptions.RepositoryNotFoundException:
        images = []
    if not images:
        raise ImageNotFound(f"Requested image {image_uri} not found: push it to ECR first "
                            "(notebook 01 registers the local image).")
    manifest = json.loads(images[0]["imageManifest"])
    program_dir = Path(manifest.get("annotations", {}).get(PROGRAM_DIR_ANNOTATION, ""))
    if not program_dir.is_dir():
        raise ImageNotFound(f"Image {image_uri} is not a local image (its manifest names no "
                            "program directory on this machine): register it with "
                            "helpers.container.publish_image() (notebook 01).")
    return program_dir


def program_environment(program_dir: Path, opt_ml: Path, extra: dict | None = None) -> dict:
    """The environment a local image's program runs in: OPT_ML names the stand-in for /opt/ml;
    PATH has the image's programs, then this Python environment (the local stand-in for the
    image's Python and libraries, so `#!/usr/bin/env python3` finds it)."""
    path = os.pathsep.join([str(program_dir), str(Path(sys.executable).parent),
                            os.environ.get("PATH", "")])
    return {**os.environ, **(extra or {}), "OPT_ML": str(opt_ml), "PATH": path,
            "PYTHONUNBUFFERED": "1"}
