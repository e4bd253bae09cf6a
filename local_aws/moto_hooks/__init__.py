"""Every hook into moto's internals, in one place.

The local AWS is moto extended: our SageMaker answers in front of moto's server, and moto's Step
Functions interpreter (LocalStack's, copied into moto) runs the ASL. Whatever touches moto's
internals — an import from a moto module other than its public `mock_aws`, a subclass of one of
its classes, a replaced function, a change to its global configuration — lives in this package,
each piece with the reason for it, and nowhere else (tests/test_packaging.py checks that no
other module imports moto; tests/local_aws/test_moto_gaps.py that each workaround still works
around a real bug).

moto is pinned exactly (requirements.txt). `check_version()` compares the installed moto with the
versions these hooks were tested with and says what to do when they differ; `install()` applies
every hook, once per process.
"""
from __future__ import annotations

import os

import moto

# The moto releases these hooks were written and tested against. `make moto-canary` runs the
# local AWS's tests against the newest moto to find out what a new release changes.
TESTED_MOTO_VERSIONS = ("5.2.5",)
# Set to run on another moto anyway (what `make moto-canary` does).
ALLOW_UNTESTED = "LOCAL_AWS_ALLOW_UNTESTED_MOTO"


class UntestedMotoVersion(RuntimeError):
    pass


def check_version(installed: str | None = None) -> str:
    """The installed moto version; UntestedMotoVersion if these hooks were not tested with it
    (unless LOCAL_AWS_ALLOW_UNTESTED_MOTO=1)."""
    installed = installed or moto.__version__
    if installed not in TESTED_MOTO_VERSIONS and os.environ.get(ALLOW_UNTESTED) != "1":
        raise UntestedMotoVersion(
            f"The local AWS hooks into moto's internals and was tested with moto "
            f"{', '.join(TESTED_MOTO_VERSIONS)}; moto {installed} is installed. Install the tested "
            f"version with `pip install -r requirements.txt` (or `make tutorial`, which does). "
            f"To try this moto anyway, set {ALLOW_UNTESTED}=1; `make moto-canary` runs the local "
            "AWS's own tests against the newest moto in a throwaway environment.")
    return installed


_installed = False


def install(port: int):
    """Apply every hook (once per process) for a local AWS serving on `port`."""
    global _installed
    check_version()
    from . import config, errors, executions, jsonata, redrive, stepfunctions, variables
    from . import refusals
    config.point_interpreter_at(port)
    if _installed:
        return
    config.enable_state_machine_execution()
    stepfunctions.install()
    jsonata.install()
    variables.install()
    errors.install()
    executions.install()
    redrive.install()  # after variables: it wraps the state evaluation variables wraps
    refusals.install()
    from . import distributed_map
    distributed_map.install()
    _installed = True


def register_integration(integration):
    """Serve `arn:aws:states:::<integration.service>:*` Task states with one of our
    integrations (a `local_aws.integrations.TaskIntegration`)."""
    from . import stepfunctions
    stepfunctions.register(integration)


def parse_definition(definition: str):
    """Parse an ASL definition as the local AWS's CreateStateMachine does; raises if invalid."""
    check_version()
    from . import distributed_map, stepfunctions
    distributed_map.install_grammar()  # Distributed Map fields moto's grammar lacks (ItemBatcher...)
    return stepfunctions.parse_definition(definition)


class ApiError(Exception):
    """An AWS-shaped error answer of an operation the local AWS serves itself."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def stepfunctions_operations() -> dict:
    """The Step Functions operations moto's HTTP layer does not serve, served by the local AWS:
    {operation: handler(request, account, region) -> response}; handlers raise ApiError."""
    check_version()
    from . import definitions, redrive, test_state
    from .config import DEFAULT_ACCOUNT_ID

    def served(handler):
        def serve(request, region):
            try:
                return handler(request, DEFAULT_ACCOUNT_ID, region)
            except test_state.TestStateRefused as refused:
                raise ApiError("ValidationException", str(refused)) from None
            except definitions.NOT_FOUND as missing:
                raise ApiError("StateMachineDoesNotExist", missing.message) from None
            except redrive.Refused as refused:
                raise ApiError(refused.code, refused.message) from None
        return serve

    return {"TestState": served(test_state.test_state),
            "ValidateStateMachineDefinition": served(definitions.validate),
            "PublishStateMachineVersion": served(definitions.publish_version),
            "ListStateMachineVersions": served(definitions.list_versions),
            "RedriveExecution": served(redrive.redrive_execution)}


def sign_interpreter_calls(credentials):
    """moto's Step Functions interpreter calls services back with fixed keys ("ak"/"sk"): make it
    sign with the local AWS's own (see credentials.py)."""
    check_version()
    from . import credentials as interpreter_credentials
    interpreter_credentials.install(credentials)
