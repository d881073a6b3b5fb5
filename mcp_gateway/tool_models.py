"""Typed tools: inputSchema and outputSchema generated from pydantic models, and handlers that take and
return model instances (``mcp_tool(input_model=..., output_model=...)`` in ``registry``).

The schema a client sees is generated from the model the handler receives or returns, so the two cannot
drift, and defaults live once, in the model. Generated schemas keep to the portable subset of JSON
Schema that MCP clients and model providers accept: self-contained (``$ref``/``$defs`` inlined), no
pydantic titles, no ``type`` arrays (a nullable value is ``anyOf`` of its type and ``null``), and an
optional input whose default is None is shown as its type alone (omit it rather than send null).

Argument errors name the field, state the limit and never echo more than a few dozen characters of
what was sent, whatever its size.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, is_dataclass, replace
from typing import Any

from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from config.errors import InvalidInput

ECHO_CHARS = 40
MAX_DEPTH = 32
JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "an integer",
              float: "a number", type(None): "null"}


# --- schemas ---------------------------------------------------------------------------------------


class _PortableSchema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _inline(node: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ValueError("tool schema nests too deeply (a recursive model cannot be inlined)")
    if isinstance(node, list):
        return [_inline(item, defs, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        merged = {**copy.deepcopy(defs[name]), **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs, depth + 1)
    return {key: _inline(value, defs, depth + 1) for key, value in node.items() if key != "$defs"}


def _tidy(node: Any) -> Any:
    """Without pydantic's titles, and without ``additionalProperties: true`` (the default, spelled as a
    boolean schema some clients refuse)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    dropped = {("title", str), ("additionalProperties", bool)}
    return {key: _tidy(value) for key, value in node.items()
            if (key, type(value)) not in dropped or (key == "additionalProperties" and value is False)}


def _omit_null_for_optional(schema: dict[str, Any]) -> dict[str, Any]:
    """An input that defaults to None is optional: show it as its type, without a null branch."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        branches = prop.get("anyOf")
        if name in required or prop.get("default", ...) is not None or not isinstance(branches, list):
            continue
        kept = [branch for branch in branches if branch != {"type": "null"}]
        del prop["default"]
        del prop["anyOf"]
        if len(kept) == 1:
            prop.update({**kept[0], **prop})
        else:
            prop["anyOf"] = kept
    return schema


def model_schema(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
    raw = model.model_json_schema(mode=mode, schema_generator=_PortableSchema)
    schema = _tidy(_inline(raw, raw.get("$defs", {})))
    return _omit_null_for_optional(schema) if mode == "validation" else schema


def input_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model_schema(model, "validation")


def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model_schema(model, "serialization")


# --- argument errors ---------------------------------------------------------------------------------


def echo(value: Any) -> str:
    """A short rendering of a value for an error message."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= ECHO_CHARS:
        return text
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(text):,} characters of JSON"
    return f"{text[:ECHO_CHARS]}... ({size})"


def _kind(value: Any) -> str:
    return JSON_TYPES.get(type(value), type(value).__name__)


def _expected_type(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    return " or ".join({"object": "an object", "array": "an array", "integer": "an integer"}.get(n, f"a {n}")
                       for n in names)


def _choices(values: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:12])
    return shown if len(values) <= 12 else f"{shown}, ... ({len(values)} in all)"


@dataclass(frozen=True)
class _Failure:
    """What jsonschema found, as plain values: the keyword, its value in the schema, the instance."""

    keyword: str
    limit: Any
    value: Any
    schema: dict[str, Any]
    text: str

    @classmethod
    def of(cls, error: SchemaError) -> _Failure:
        schema = error.schema if isinstance(error.schema, dict) else {}
        return cls(str(error.validator), error.validator_value, error.instance, schema, str(error.message))


def _unknown_fields(failure: _Failure) -> str:
    unknown = sorted(set(failure.value) - set(failure.schema.get("properties", {})))
    return f"unknown field(s): {', '.join(echo(name) for name in unknown[:5])}"


def _alternatives(failure: _Failure) -> str:
    kinds = [_expected_type(branch["type"]) for branch in failure.limit if branch.get("type")]
    return f"must be {' or '.join(kinds) or 'one of the allowed forms'} (got {echo(failure.value)})"


_BOUNDS = {"maximum": "at most", "minimum": "at least", "exclusiveMaximum": "less than",
           "exclusiveMinimum": "more than"}
_MESSAGES: dict[str, Callable[[_Failure], str]] = {
    "maxLength": lambda f: f"must be at most {f.limit:,} characters (got {len(f.value):,})",
    "minLength": lambda f: f"must be at least {f.limit:,} characters (got {len(f.value):,})",
    **{keyword: (lambda f: f"must be {_BOUNDS[f.keyword]} {f.limit} (got {echo(f.value)})") for keyword in _BOUNDS},
    "type": lambda f: f"must be {_expected_type(f.limit)}, not {_kind(f.value)}",
    "enum": lambda f: f"must be one of: {_choices(list(f.limit))} (got {echo(f.value)})",
    "maxItems": lambda f: f"must have at most {f.limit} items (got {len(f.value)})",
    "additionalProperties": _unknown_fields,
    "anyOf": _alternatives,
    "oneOf": _alternatives,
}


def _message(failure: _Failure) -> str:
    plain = _MESSAGES.get(failure.keyword)
    if plain is not None:
        return plain(failure)
    return failure.text if len(failure.text) <= 200 else f"{failure.text[:200]}..."


@dataclass(frozen=True)
class ArgumentProblem:
    """One problem with a tool's arguments: where (``absolute_path``) and what, in plain words."""

    absolute_path: Sequence[str | int]
    message: str


class ArgumentsValidator:
    """``iter_errors(arguments)`` like jsonschema's validators, with messages that state the limit and never
    echo a large value back (a 50,000-character string costs 40 characters of the answer)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(schema)

    def iter_errors(self, instance: Any) -> Iterator[ArgumentProblem]:
        for error in self._validator.iter_errors(instance):
            path: list[str | int] = list(error.absolute_path)
            failure = _Failure.of(error)
            if failure.keyword == "required":
                missing = failure.text.split("'")[1] if "'" in failure.text else ""
                yield ArgumentProblem([*path, missing] if missing else path, "is required")
            else:
                yield ArgumentProblem(path, _message(failure))


_PYDANTIC_MESSAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "missing": lambda e: "is required",
    "extra_forbidden": lambda e: "is not a known field",
    "int_parsing": lambda e: f"must be a whole number (got {echo(e.get('input'))})",
    "int_type": lambda e: f"must be a whole number (got {echo(e.get('input'))})",
    "greater_than_equal": lambda e: f"must be at least {e['ctx']['ge']} (got {echo(e.get('input'))})",
    "less_than_equal": lambda e: f"must be at most {e['ctx']['le']} (got {echo(e.get('input'))})",
    "string_too_long": lambda e: f"must be at most {e['ctx']['max_length']:,} characters",
    "value_error": lambda e: str(e["ctx"]["error"]),
}


def validation_problem(exc: ValidationError) -> InvalidInput:
    """A pydantic error (a check the schema cannot express, such as a date-time that does not parse, or
    arguments that arrive as strings, from a URI) as ours: the field, then what is wrong in plain words."""
    first = exc.errors(include_url=False)[0]
    # Union members and validators add their own steps to loc; keep the field names and list positions.
    where = ".".join(str(part) for part in first["loc"] if isinstance(part, int) or str(part).isidentifier())
    plain = _PYDANTIC_MESSAGES.get(first["type"])
    message = plain(dict(first)) if plain is not None else str(first["msg"])
    return InvalidInput(reason=f"{where or 'arguments'}: {message[:300]}")


# --- typed handlers ------------------------------------------------------------------------------------


def _dump(value: Any, output_model: type[BaseModel] | None, validator: Draft202012Validator | None) -> Any:
    structured = getattr(value, "structured", None)
    if is_dataclass(value) and not isinstance(value, type) and isinstance(structured, BaseModel):
        # A full ToolResult (content of its own): its structured part is the typed output.
        return replace(value, structured=_dump(structured, output_model, validator))
    if not isinstance(value, BaseModel):
        return value
    if output_model is not None and not isinstance(value, output_model):
        raise TypeError(f"the tool returned {type(value).__name__}, not its output model {output_model.__name__}")
    dumped = value.model_dump(mode="json", by_alias=True)
    if validator is not None and settings.DEBUG:
        validator.validate(dumped)  # DEBUG: the result must match the outputSchema clients were given
    return dumped


def parse_input(input_model: type[BaseModel] | None, arguments: dict[str, Any]) -> Any:
    """The arguments as the tool's input model (``InvalidInput`` when they do not fit), or as they are."""
    if input_model is None:
        return arguments
    try:
        return input_model.model_validate(arguments)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def dump_output(value: Any, output_model: type[BaseModel] | None) -> Any:
    """A typed tool's return value (an instance of its output model) as JSON, as its handler sends it."""
    return _dump(value, output_model, None)


def typed_handler(fn: Callable[..., Any], input_model: type[BaseModel] | None,
                  output_model: type[BaseModel] | None) -> Callable[..., Any]:
    """``fn(ctx, model_instance)`` as the dispatcher's ``(ctx, arguments)``: arguments validated into the
    input model (the dispatcher has checked them against its schema already), the result dumped to JSON."""
    validator = Draft202012Validator(output_schema(output_model)) if output_model is not None else None

    def parse(arguments: dict[str, Any]) -> Any:
        return parse_input(input_model, arguments)

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def run_async(ctx: Any, arguments: dict[str, Any]) -> Any:
            return _dump(await fn(ctx, parse(arguments)), output_model, validator)

        return run_async

    @functools.wraps(fn)
    def run(ctx: Any, arguments: dict[str, Any]) -> Any:
        return _dump(fn(ctx, parse(arguments)), output_model, validator)

    return run
