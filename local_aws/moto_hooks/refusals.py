"""Workarounds: how moto 5.2.5's Step Functions refuses a definition, and names its errors.

- Empty error codes: the exceptions of moto's Step Functions parser (`parser/api.py`:
  InvalidDefinition, ValidationException, ...) set AWS's name in a `code` class attribute, but
  derive from moto's AWSError, which reads `TYPE` (and overwrites `code` with the HTTP status):
  every one of them reaches the client with an empty error code. `name_parser_errors()` sets each
  class's TYPE (and STATUS) from its own declaration.
- Python reprs: CreateStateMachine/UpdateStateMachine wrap whatever the parser raised in
  InvalidDefinition as `Error=ValueError Args=[...] in definition '<the whole definition>'` (or
  `repr()` of a parse error). `validate_definition()` answers as AWS does instead (API reference,
  CreateStateMachine: InvalidDefinition, "The provided Amazon States Language definition is
  invalid"): `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: <what> at
  /States/<state>/Resource'`, and for a Task resource the local AWS does not offer, the message
  names it and lists the integrations of that service it does offer.
"""
from __future__ import annotations

import json
import re

from moto.core.exceptions import AWSError
from moto.stepfunctions.parser import api as parser_api
from moto.stepfunctions.parser.api import InvalidDefinition
from moto.stepfunctions.parser.asl.parse.asl_parser import (
    AmazonStateLanguageParser,
    ASLParserException,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_NOT_RECOGNIZED = re.compile(r"The resource provided (\S+) not recognized")
# moto's own objects that install() replaces or changes, for the tests that notice when moto
# fixes them.
MOTO_ORIGINALS: dict = {}


class IntegrationNotOffered(ValueError):
    """A Task resource of a service the local AWS integrates itself, which it does not offer."""

    def __init__(self, resource: str, offered: list[str]):
        super().__init__(f"The resource provided {resource} not recognized.")
        self.resource, self.offered = resource, offered


def _states_with_resource(definition, resource: str, where: str = "") -> list[str]:
    """JSON-pointer-like paths of the states whose Resource is `resource`."""
    found = []
    if not isinstance(definition, dict):
        return found
    for name, state in (definition.get("States") or {}).items():
        if not isinstance(state, dict):
            continue
        path = f"{where}/States/{name}"
        if state.get("Resource") == resource:
            found.append(f"{path}/Resource")
        for i, branch in enumerate(state.get("Branches") or []):
            found += _states_with_resource(branch, resource, f"{path}/Branches[{i}]")
        for key in ("ItemProcessor", "Iterator"):
            found += _states_with_resource(state.get(key), resource, f"{path}/{key}")
    return found


def refusal_message(definition: str, error: Exception) -> str:
    """AWS's InvalidDefinition message for what moto's parser raised."""
    if isinstance(error, ASLParserException):
        details = "; ".join(error.errors) or "the definition cannot be parsed"
        return f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {details}'"
    text = str(error)
    match = _NOT_RECOGNIZED.search(text)
    if not match:
        return f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: {text}'"
    resource = getattr(error, "resource", match.group(1))
    try:
        where = _states_with_resource(json.loads(definition), resource)
    except ValueError:
        where = []
    message = (f"Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: The resource "
               f"provided {resource} not recognized. The value is not a valid resource ARN, or "
               "the resource is not available in this region."
               + (f" at {where[0]}'" if where else "'"))
    offered = getattr(error, "offered", None)
    if offered:
        message += (" The local AWS does not offer this integration; it offers: "
                    + ", ".join(offered) + ".")
    return message


def validate_definition(definition: str):
    """As moto's StepFunctionsParserBackend._validate_definition, with AWS's message."""
    try:
        AmazonStateLanguageParser.parse(definition)
    except Exception as error:  # noqa: BLE001 - whatever the parser refuses is InvalidDefinition
        raise InvalidDefinition(refusal_message(definition, error)) from None


def name_parser_errors():
    for value in vars(parser_api).values():
        if isinstance(value, type) and issubclass(value, AWSError) \
                and isinstance(value.__dict__.get("code"), str) and not value.TYPE:
            MOTO_ORIGINALS.setdefault("unnamed", []).append(value)
            value.TYPE = value.__dict__["code"]
            value.STATUS = value.__dict__.get("status_code", value.STATUS)


_installed = False


def install():
    global _installed
    if _installed:
        return
    _installed = True
    MOTO_ORIGINALS["validate_definition"] = StepFunctionsParserBackend._validate_definition
    name_parser_errors()
    StepFunctionsParserBackend._validate_definition = staticmethod(validate_definition)
