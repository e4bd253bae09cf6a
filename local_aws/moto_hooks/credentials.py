"""moto's Step Functions interpreter calls services back through the server with fixed keys.

`moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for` (moto 5.2.5) makes every client
the interpreter uses (SNS publish, the aws-sdk integration, S3 item readers and result writers...)
with `aws_access_key_id="ak"`, `aws_secret_access_key="sk"`, at localhost:$MOTO_PORT. The local AWS
accepts only requests signed with its own key pair (local_aws/auth.py), so those calls would be
refused. Each interpreter module imported the function by name, so each module's binding is
replaced with one that signs with the server's credentials.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import boto3
from botocore.config import Config
from moto.settings import moto_server_port
from moto.stepfunctions import parser as interpreter
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client as moto_boto_client

_IMPORTS = re.compile(r"^from moto\.stepfunctions\.parser\.asl\.utils\.boto_client import "
                      r"boto_client_for\b", re.MULTILINE)
_credentials = None


def modules_using_boto_client_for() -> list[str]:
    """The interpreter's modules that call `boto_client_for` (found in moto's source, so that a
    new moto's new callers are found too)."""
    root = Path(interpreter.__file__).parent
    names = []
    for path in sorted(root.rglob("*.py")):
        if _IMPORTS.search(path.read_text(encoding="utf-8", errors="replace")):
            relative = path.relative_to(root).with_suffix("")
            names.append(".".join([interpreter.__name__, *relative.parts]))
    return names


def signed_boto_client_for(region: str, service: str, state_credentials=None):
    """As moto's `boto_client_for`, with the local AWS's credentials instead of "ak"/"sk"."""
    return boto3.client(
        service_name=service, region_name=region, **_credentials.for_boto3(),
        endpoint_url=f"http://localhost:{moto_server_port()}",
        config=Config(parameter_validation=False,
                      retries={"max_attempts": 0, "total_max_attempts": 1},
                      connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                      read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS))


def install(credentials):
    """Sign the interpreter's calls with `credentials` (a local_aws.auth.LocalCredentials)."""
    global _credentials
    _credentials = credentials
    moto_boto_client.boto_client_for = signed_boto_client_for
    for name in modules_using_boto_client_for():
        module = importlib.import_module(name)
        module.boto_client_for = signed_boto_client_for
