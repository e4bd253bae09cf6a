"""moto's global configuration and server plumbing, as the local AWS uses them."""
from __future__ import annotations

import os

from moto.core import DEFAULT_ACCOUNT_ID  # noqa: F401 - the account the local AWS acts in
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def point_interpreter_at(port: int):
    """moto's Step Functions interpreter calls other services (SNS, the aws-sdk integration, our
    SageMaker) at localhost:$MOTO_PORT, 5000 by default: it must be this server's port."""
    os.environ["MOTO_PORT"] = str(port)


def enable_state_machine_execution():
    """Without this, moto's Step Functions marks every execution SUCCEEDED at once instead of
    running its definition (moto's documented `execute_state_machine` setting, set in-process
    rather than through POST /moto-api/config)."""
    default_user_config["stepfunctions"]["execute_state_machine"] = True


def moto_app():
    """moto's own WSGI application, dispatching each request to the service it is for."""
    return DomainDispatcherApplication(create_backend_app)


class QuietRequestHandler(MotoRequestHandler):
    """No access-log line per request: `.sync` polling and progress displays would flood the log."""

    def log_request(self, code="-", size="-"):
        pass
