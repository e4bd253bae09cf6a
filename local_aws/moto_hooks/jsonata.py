"""JSONata, as Step Functions evaluates it, in moto's interpreter.

Why: moto 5.2.5 copies LocalStack's interpreter, which parses `"QueryLanguage": "JSONata"` but
leaves its evaluator unwired (moto issue #10105): every `{% ... %}` fails with States.Runtime
("'NoneType' object is not callable"), and so does reading a variable (`$name`), even in a
JSONPath state. LocalStack ran jsonata-java (dashjoin) in a JVM, pasting variables into the
expression text as JSON (`($x:="a";...;expr)`), which breaks on a string holding a quote.

The evaluator here is jsonata-python, the pure-Python port of that same jsonata-java: the
semantics LocalStack's layer was written for, on every platform without a compiler or a JVM.
Compared with the other maintained PyPI implementations on the JSONata 2.0.6 test suite
(1,625 cases) and on Step Functions-shaped expressions (README of tests/local_aws/test_jsonata.py
has the table): the Rust-backed jlens and jsonatapy pass a few cases more and run ~20x faster,
but ship compiled wheels (jsonatapy none for current Intel macOS), and jsonata-rs, the Rust port
of jsonata-java, has no Intel-macOS or Windows wheels. A JSONata field costs ~0.2 ms here, small
next to a state transition.

What Step Functions adds, and what this module therefore does:
- bindings, not text: `$states` (input, context, result, errorOutput) and the workflow's
  variables are passed as values; compiled expressions are cached per thread;
- Step Functions' own functions: $partition, $range, $hash, $random([seed]), $uuid, $parse;
  `$eval` is not available (AWS: "JSONata 2.0.6 except $eval"), so calling it is T1006;
- errors as AWS reports them: States.QueryEvaluationError, an EvaluationFailed event with the
  field's location (`Output/message`), and AWS's cause ("... threw an error during evaluation.
  T2001: ..." / "... returned nothing (undefined).");
- a variable read in a JSONPath state (`"x.$": "$name.path"`) is a JSONPath into the variable.
"""
from __future__ import annotations

import hashlib
import json
import random
import threading
import uuid

from jsonata import JException, Jsonata
from jsonata.utils import Utils
from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.common.string import string_expression
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.variable_store import NoSuchVariable
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
from moto.stepfunctions.parser.asl.utils.json_path import extract_json

HASH_ALGORITHMS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                   "SHA-512": "sha512"}
RANGE_LIMIT = 1000  # as States.ArrayRange: at most 1000 items


class FunctionError(Exception):
    """A Step Functions JSONata function called with arguments it refuses."""


def _partition(array, chunk_size):
    if not isinstance(array, list):
        array = [] if array is None else [array]
    if not isinstance(chunk_size, (int, float)) or isinstance(chunk_size, bool) \
            or chunk_size <= 0 or int(chunk_size) != chunk_size:
        raise FunctionError("$partition: the chunk size must be a positive integer.")
    size = int(chunk_size)
    return [list(array[i:i + size]) for i in range(0, len(array), size)]


def _range(first, last, step=1):
    if any(not isinstance(v, (int, float)) or isinstance(v, bool) or int(v) != v
           for v in (first, last, step)) or step == 0:
        raise FunctionError("$range: start, end and step must be integers, step not 0.")
    first, last, step = int(first), int(last), int(step)
    values = list(range(first, last + (1 if step > 0 else -1), step))
    if len(values) > RANGE_LIMIT:
        raise FunctionError(f"$range: the result has more than {RANGE_LIMIT} items.")
    return values


def _hash(value, algorithm):
    if algorithm not in HASH_ALGORITHMS:
        raise FunctionError(f"$hash: the algorithm must be one of {', '.join(HASH_ALGORITHMS)}.")
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return hashlib.new(HASH_ALGORITHMS[algorithm], text.encode()).hexdigest()


def _random(seed=None):
    if seed is None:
        return random.random()
    if not isinstance(seed, (int, float)) or isinstance(seed, bool):
        raise FunctionError("$random: the seed must be a number.")
    return random.Random(seed).random()


def _parse(text):
    if not isinstance(text, str):
        raise FunctionError("$parse: the argument must be a string of JSON.")
    try:
        return json.loads(text)
    except ValueError as error:
        raise FunctionError(f"$parse: not JSON ({error}).") from None


STEP_FUNCTIONS_FUNCTIONS = {
    "partition": Jsonata.JLambda(_partition), "range": Jsonata.JLambda(_range),
    "hash": Jsonata.JLambda(_hash), "random": Jsonata.JLambda(_random),
    "uuid": Jsonata.JLambda(lambda: str(uuid.uuid4())), "parse": Jsonata.JLambda(_parse),
    "eval": None,  # not offered by Step Functions
}

_compiled = threading.local()


def compiled(expression: str) -> Jsonata:
    """The compiled expression (parsed once per thread: a Jsonata object keeps evaluation state
    and Map iterations and Parallel branches run in threads)."""
    cache = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = {}
    if expression not in cache:
        if len(cache) > 2000:
            cache.clear()
        expression_object = Jsonata(expression)
        expression_object.set_output_convert_nulls(False)  # keep null apart from undefined
        cache[expression] = expression_object
    return cache[expression]


def _json_value(value):
    """jsonata-python's result as plain JSON values (its null sentinel, sequences, integers)."""
    if value is Utils.NULL_VALUE:
        return None
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    return value


def _variables(env) -> dict:
    store = env.variable_store
    return {**store._outer_scope, **store._inner_scope}


def _states(env) -> dict:
    data = env.states._states_data
    return {key: data[key] for key in ("input", "context", "result", "errorOutput")
            if key in data}


def evaluate(expression: str, states: dict | None, variables: dict):
    """Evaluate a JSONata expression as Step Functions does; raises JException or
    FunctionError. Returns (defined, value)."""
    bindings = dict(variables)
    bindings.update(STEP_FUNCTIONS_FUNCTIONS)
    if states is not None:
        bindings["states"] = states
    try:
        result = compiled(expression).evaluate(None, bindings)
    except RecursionError:
        raise JException("U1001", 0) from None
    if result is None:
        return False, None
    return True, _json_value(result)


def _fail(env, expression: str, location: str | None, reason: str):
    error_name = StatesErrorName(typ=StatesErrorNameType.StatesQueryEvaluationError)
    field = f" specified for the field '{location}'" if location else ""
    details = EvaluationFailedEventDetails(
        error=error_name.error_name,
        cause=f"The JSONata expression '{expression}'{field} {reason}")
    if location:
        details["location"] = location
    failure = FailureEventException(FailureEvent(
        env=env, error_name=error_name, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(evaluationFailedEventDetails=details)))
    env.event_manager.add_event(
        context=env.event_history_context, event_type=HistoryEventType.EvaluationFailed,
        event_details=EventDetails(
            evaluationFailedEventDetails=failure.get_evaluation_failed_event_details()))
    raise failure


def evaluate_field(env, expression: str, location: str | None):
    """A `{% %}` field of a JSONata state: the value, or States.QueryEvaluationError."""
    try:
        defined, value = evaluate(expression, _states(env), _variables(env))
    except JException as error:
        _fail(env, expression, location,
              f"threw an error during evaluation. {error.error}: {error}")
    except FunctionError as error:
        _fail(env, expression, location, f"threw an error during evaluation. {error}")
    if not defined:
        _fail(env, expression, location, "returned nothing (undefined).")
    if callable(value) or isinstance(value, (Jsonata.JFunctionCallable,)):
        _fail(env, expression, location, "returned an unsupported result type.")
    return value


def _eval_string_jsonata(self, env):
    env.stack.append(evaluate_field(env, self.expression,
                                    getattr(self, "location", None) or env.next_field_name))


def _eval_variable_sample(self, env):
    """`$name.path` in a JSONPath state (or a JSONata one): the variable, then a JSONPath."""
    name, dot, path = self.expression[1:].partition(".")
    bracket = name.find("[")
    if bracket >= 0:
        name, path, dot = name[:bracket], name[bracket:] + dot + path, ""
    try:
        value = env.variable_store.get(name)
    except NoSuchVariable:
        if self.query_language_mode.name == "JSONata":
            env.stack.append(evaluate_field(env, self.expression, env.next_field_name))
            return
        raise
    env.stack.append(extract_json("$" + (dot + path if dot else path), value)
                     if path else value)


def location_of(ctx) -> str | None:
    """The field a JSONata string sits in, as AWS names it in errors: `Output/message`."""
    segments = []
    node = ctx.parentCtx
    while node is not None and not isinstance(node, ASLParser.State_declContext):
        children = node.children or []
        if len(children) >= 2 and children[1].getText() == ":":
            segments.append(children[0].getText().strip('"'))
        node = node.parentCtx
    return "/".join(reversed(segments)) or None


_installed = False


def install():
    global _installed
    if _installed:
        return
    _installed = True
    string_expression.StringJSONata._eval_body = _eval_string_jsonata
    string_expression.StringVariableSample._eval_body = _eval_variable_sample
    original_visit = Preprocessor.visitString_jsonata

    def visit_string_jsonata(self, ctx):
        component = original_visit(self, ctx)
        component.location = location_of(ctx)
        return component

    Preprocessor.visitString_jsonata = visit_string_jsonata
