"""The bring-your-own container: publish it as an image, and test it like AWS's local_test/ does.

On AWS the image is built with Docker and pushed to ECR. Locally there is no Docker engine:
the container's directory is registered as an image in the local ECR, and the local SageMaker runs
its `train` and `serve` programs as processes, with a temporary directory standing in for /opt/ml.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd

from . import config
from .data import DATA_DIR
from .names import Names
from local_aws import free_port, local_image_manifest, program_environment

CONTAINER_DIR = config.REPO_ROOT / "container"
PROGRAM_DIR = CONTAINER_DIR / "decision_trees"
PROGRAMS = ("train", "serve", "predictor.py", "csv_data.py")


class DockerUnavailable(RuntimeError):
    pass


def image_uri(aws) -> str:
    """The image as the document writes it (no tag means :latest)."""
    return Names.from_aws(aws).image_uri


def ensure_repository(aws) -> str:
    ecr = aws.client("ecr")
    tags = [{"Key": config.SERIES_TAG_KEY, "Value": config.SERIES_TAG_VALUE}]
    try:
        ecr.create_repository(repositoryName=config.IMAGE_REPOSITORY, tags=tags)
        return "created"
    except ecr.exceptions.RepositoryAlreadyExistsException:
        arn = ecr.describe_repositories(repositoryNames=[config.IMAGE_REPOSITORY])[
            "repositories"][0]["repositoryArn"]
        ecr.tag_resource(resourceArn=arn, tags=tags)
        return "existed"


def publish_image(aws) -> str:
    """Make the image available to SageMaker; returns its URI."""
    ensure_repository(aws)
    if aws.settings.is_local:
        ecr = aws.client("ecr")
        try:
            ecr.put_image(repositoryName=config.IMAGE_REPOSITORY, imageTag="latest",
                          imageManifest=local_image_manifest(PROGRAM_DIR))
        except ecr.exceptions.ImageAlreadyExistsException:
            pass  # the same image under the same tag: already published
    else:
        docker_build_and_push(aws)
    return image_uri(aws)


def docker_build_and_push(aws):
    """`docker build`, `docker login` with an ECR token, `docker push`."""
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        raise DockerUnavailable(
            "Building the image for AWS needs a running Docker engine, and none answers here. "
            "Start Docker (Docker Desktop, or `sudo systemctl start docker`) and run this cell "
            "again, or build on a machine that has Docker (an AWS Cloud9 or SageMaker Studio "
            f"terminal works): `cd container && docker build -t {image_uri(aws)} .` then push.")
    uri = image_uri(aws)
    token = aws.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    # The series' instance types are x86: an image built on an ARM laptop (Apple silicon) would
    # not start on them without the explicit platform.
    subprocess.run([docker, "build", "--platform", "linux/amd64", "-t", uri, str(CONTAINER_DIR)],
                   check=True)
    subprocess.run([docker, "login", "--username", user, "--password-stdin",
                    token["proxyEndpoint"]], input=password.encode(), check=True)
    subprocess.run([docker, "push", uri], check=True)


def program_source(name: str) -> str:
    if name not in PROGRAMS and name != "Dockerfile":
        raise ValueError(f"Unknown program {name!r}; one of {', '.join(PROGRAMS)}, Dockerfile")
    path = CONTAINER_DIR / name if name == "Dockerfile" else PROGRAM_DIR / name
    return path.read_text()


def program_excerpt(name: str, *functions: str) -> str:
    """The named top-level functions of a program, as they are in the file (decorators
    included), each headed by its file and line numbers: the part of a program worth reading."""
    import ast
    text = program_source(name)
    lines = text.splitlines()
    found = {node.name: node for node in ast.parse(text).body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    parts = []
    for function in functions:
        if function not in found:
            raise ValueError(f"{name} has no top-level function {function!r}")
        node = found[function]
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        parts.append(f"# {PROGRAM_DIR.relative_to(config.REPO_ROOT)}/{name}, lines "
                     f"{first}-{node.end_lineno}\n" + "\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n".join(parts)


def local_train(opt_ml: Path, training_csv: Path, hyperparameters: dict | None = None):
    """Run `train` as SageMaker would, with opt_ml standing in for /opt/ml."""
    (opt_ml / "input" / "config").mkdir(parents=True, exist_ok=True)
    channel = opt_ml / "input" / "data" / "training"
    channel.mkdir(parents=True, exist_ok=True)
    shutil.copy(training_csv, channel / training_csv.name)
    (opt_ml / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(hyperparameters or {}))
    return subprocess.run([str(PROGRAM_DIR / "train")], cwd=opt_ml,
                          env=program_environment(PROGRAM_DIR, opt_ml),
                          capture_output=True, text=True, timeout=300)


def invoke(url: str, body: bytes, content_type: str = "text/csv") -> tuple[int, str]:
    request = urllib.request.Request(f"{url}/invocations", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class LocalServe:
    """`serve` on a free loopback port, as a context manager that always stops it."""

    def __init__(self, opt_ml: Path, start_timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = program_environment(PROGRAM_DIR, opt_ml, {
            "SAGEMAKER_BIND_TO_PORT": str(self.port), "SERVE_BIND_HOST": "127.0.0.1",
            "MODEL_SERVER_WORKERS": "1"})
        self._timeout = start_timeout
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen([str(PROGRAM_DIR / "serve")], env=self._env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("serve exited during start: "
                                   + self.process.stderr.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise TimeoutError(f"serve did not answer /ping within {self._timeout} s")

    def __exit__(self, *exc):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()


def local_test(training_csv: Path = DATA_DIR / "iris.csv", rows: int = 8) -> pd.DataFrame:
    """AWS's local_test/ (train_local.sh, serve_local.sh, predict.sh) without Docker: train on the
    data, serve the model, ping it, predict a few rows; a table of predictions against truth."""
    data = pd.read_csv(training_csv, header=None)
    sample = data.sample(n=min(rows, len(data)), random_state=0)
    with tempfile.TemporaryDirectory(prefix="local-test-") as tmp:
        opt_ml = Path(tmp)
        # The temporary directory stands in for /opt/ml; what is printed says /opt/ml, as the
        # container would, and no path of this machine.
        print(f"1. train: {training_csv.name} -> /opt/ml/model/ (a temporary directory here)")
        result = local_train(opt_ml, training_csv)
        if result.returncode != 0:
            raise RuntimeError(f"train failed (exit {result.returncode}):\n{result.stdout}"
                               f"{result.stderr}")
        printed = result.stdout.strip().replace(str(opt_ml), "/opt/ml")
        print("   " + "\n   ".join(printed.splitlines()))
        with LocalServe(opt_ml) as server:
            print(f"2. serve: GET {server.url}/ping -> 200")
            body = sample.iloc[:, 1:].to_csv(header=False, index=False).encode()
            status, text = invoke(server.url, body)
            print(f"3. predict: POST /invocations ({len(sample)} rows, text/csv) -> {status}")
        if status != 200:
            raise RuntimeError(f"/invocations answered {status}: {text}")
    return pd.DataFrame({"features": [", ".join(map(str, r)) for r in sample.iloc[:, 1:].values],
                         "true label": sample[0].values,
                         "predicted": text.split()})
