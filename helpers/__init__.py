"""Helpers for the SageMaker + Step Functions series: the plumbing, so notebooks show the ideas.

Every notebook starts with `import helpers` and `aws = helpers.connect()`, then uses the modules
by name (`helpers.workflows`, `helpers.executions`, ...). They load on first use, so the command
line (`python -m helpers local status`) does not wait for the SDKs to import.

This package holds only what the notebooks use. The tooling that runs, publishes and packages the
series (the series runner, the site, workshop copies, export, the command line behind
`python -m helpers`) is the `series_tools` package.
"""
import importlib

_MODULES = ("alerts", "aws", "cleanup", "config", "container", "costs", "data", "display",
            "executions", "exercises", "faults", "graph", "hosting", "inputs", "names",
            "permissions", "preflight", "prerequisites", "rebuilding", "sdk", "workflows")
_MODULES += ("scale_workflows",)  # notebooks 10 and 11
_MODULES += ("jsonata_workflows",)  # notebook 12
_NAMES = {"connect": "aws", "rebuild": "rebuilding", "reset": "rebuilding", "Json": "display",
          "SideBySide": "display"}


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _NAMES:
        return getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")


def __dir__():
    return sorted(_MODULES + tuple(_NAMES))
