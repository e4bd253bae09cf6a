"""The embedded local AWS: moto, extended with a SageMaker that runs the container's programs.

Public API (what `helpers`, the tests and the benchmarks use; everything else is internal):
- `LocalAwsServer`: the server (moto + our SageMaker), in a thread or as a process.
- `control`: start/stop/status of the server process (`python -m helpers local ...`).
- `faults`: fault injection, client side (`arm`, `injected`, `list_faults`, `clear`).
- `local_image_manifest`, `program_environment`, `IMAGE_URI`: local container images (an ECR image
  naming a directory of programs) and the environment their programs run in.
- `free_port`: a free loopback port.
- `parse_definition`: parse ASL as the local AWS's CreateStateMachine does.

Inside: `sagemaker` (training jobs), `hosting` (models, endpoints), `programs` (a container
program as a process), `s3files` (S3 <-> a job's folder, keys contained), `integrations` and
`stepfunctions_sagemaker` (the Step Functions SageMaker integration), `moto_hooks` (every hook
into moto's internals), `api` (the HTTP front).
"""
import importlib

__all__ = ["LocalAwsServer", "control", "faults", "local_image_manifest", "program_environment",
           "IMAGE_URI", "free_port", "parse_definition"]
_WHERE = {"LocalAwsServer": "server", "local_image_manifest": "images",
          "program_environment": "images", "IMAGE_URI": "images", "free_port": "hosting",
          "parse_definition": "moto_hooks"}


def __getattr__(name):
    # Loaded on first use: `control` is light, the server imports moto (seconds).
    if name in ("control", "faults"):
        return importlib.import_module(f".{name}", __name__)
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'local_aws' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
