"""ValidateStateMachineDefinition, PublishStateMachineVersion and ListStateMachineVersions, which
moto 5.2.5's HTTP layer does not serve (its copied LocalStack provider has a validate that cannot
be imported without LocalStack; its backend keeps versions but offers no API for them).

Validation answers as AWS does (API reference, ValidateStateMachineDefinition): `result` OK or
FAIL and `diagnostics` of {severity, code, message, location}: INVALID_JSON_DESCRIPTION for text
that is not JSON, SCHEMA_VALIDATION_FAILED for a missing or wrong field, MISSING_TRANSITION_TARGET
for a Next, Default or StartAt naming no state; anything else moto's own parser refuses is reported
as SCHEMA_VALIDATION_FAILED with its message.
"""
from __future__ import annotations

import json

from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

STATE_TYPES = {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"}


def _diagnostic(code: str, message: str, location: str | None = None) -> dict:
    found = {"severity": "ERROR", "code": code, "message": message}
    if location is not None:
        found["location"] = location
    return found


def _machine(states_owner: dict, where: str, query_language: str | None) -> list[dict]:
    found = []
    missing = [field for field in ("States", "StartAt") if field not in states_owner]
    if missing:
        return [_diagnostic("SCHEMA_VALIDATION_FAILED",
                            f"These fields are required: [{', '.join(missing)}]", where or "/")]
    states = states_owner["States"]
    if states_owner["StartAt"] not in states:
        found.append(_diagnostic("MISSING_TRANSITION_TARGET",
                                 f"Missing 'StartAt' target: {states_owner['StartAt']}",
                                 f"{where}/StartAt"))
    for name, state in states.items():
        path = f"{where}/States/{name}"
        if not isinstance(state, dict) or state.get("Type") not in STATE_TYPES:
            found.append(_diagnostic("SCHEMA_VALIDATION_FAILED",
                                     "These fields are required: [Type]" if "Type" not in state
                                     else f"The field 'Type' has an unsupported value: "
                                          f"{state['Type']}", path))
            continue
        if query_language == "JSONata" and state.get("QueryLanguage") == "JSONPath":
            found.append(_diagnostic("SCHEMA_VALIDATION_FAILED",
                                     "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' "
                                     "for whole state machine", path))
        targets = [("Next", state.get("Next")), ("Default", state.get("Default"))]
        targets += [(f"Choices[{i}]/Next", rule.get("Next"))
                    for i, rule in enumerate(state.get("Choices", []))]
        targets += [(f"Catch[{i}]/Next", rule.get("Next"))
                    for i, rule in enumerate(state.get("Catch", []))]
        for field, target in targets:
            if target is not None and target not in states:
                found.append(_diagnostic("MISSING_TRANSITION_TARGET",
                                         f"Missing 'Next' target: {target}", f"{path}/{field}"))
        if state["Type"] in ("Task", "Pass", "Wait", "Parallel", "Map") \
                and "Next" not in state and not state.get("End"):
            found.append(_diagnostic("SCHEMA_VALIDATION_FAILED",
                                     "These fields are required: [Next or End]", path))
        for i, branch in enumerate(state.get("Branches", [])):
            found += _machine(branch, f"{path}/Branches[{i}]",
                              state.get("QueryLanguage", query_language))
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                found += _machine(state[key], f"{path}/{key}",
                                  state.get("QueryLanguage", query_language))
    return found


def validate(request: dict, account: str, region: str) -> dict:
    from . import parse_definition
    text = request.get("definition", "")
    try:
        definition = json.loads(text)
    except ValueError as error:
        diagnostics = [_diagnostic("INVALID_JSON_DESCRIPTION", str(error),
                                   f"[line: {error.lineno}, column: {error.colno}]")]
    else:
        if not isinstance(definition, dict):
            diagnostics = [_diagnostic("SCHEMA_VALIDATION_FAILED",
                                       "Definition must be a valid JSON object")]
        else:
            diagnostics = _machine(definition, "", definition.get("QueryLanguage"))
            if not diagnostics:
                try:
                    parse_definition(text)
                except Exception as error:  # noqa: BLE001 - whatever the parser refuses
                    diagnostics = [_diagnostic("SCHEMA_VALIDATION_FAILED", str(error), "/")]
    limit = request.get("maxResults") or 100
    return {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics[:limit],
            "truncated": len(diagnostics) > limit}


def _state_machine(request: dict, account: str, region: str):
    return stepfunctions_parser_backends[account][region].describe_state_machine(
        request.get("stateMachineArn", ""))


def publish_version(request: dict, account: str, region: str) -> dict:
    machine = _state_machine(request, account, region)
    machine.publish(request.get("description"))
    version = machine.latest_version
    return {"creationDate": version.creation_date, "stateMachineVersionArn": version.arn}


def list_versions(request: dict, account: str, region: str) -> dict:
    machine = _state_machine(request, account, region)
    versions = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
    return {"stateMachineVersions": [{"stateMachineVersionArn": v.arn,
                                      "creationDate": v.creation_date} for v in versions]}


NOT_FOUND = (StateMachineDoesNotExist,)
