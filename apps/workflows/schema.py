"""A workflow version's case schema: what case data must look like before a case may start.

The schema is JSON Schema, Draft 2020-12, checked with formats on (``date``, ``email``…).
Callers see plain sentences naming the field and the rule ("amount: 'lots' is not a number"),
never jsonschema's own wording, since operators and API clients read them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaViolation
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

Validator = Draft202012Validator
FORMAT_CHECKER = FormatChecker()

SCHEMA_NOT_OBJECT = (
    "The case schema must be a JSON object, e.g. "
    '{"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number"}}}.'
)
SCHEMA_NOT_FOR_OBJECTS = (
    'The case schema must describe a JSON object: its "type" must be "object" (case data is '
    "always an object of fields)."
)

TYPE_WORDS = {
    "number": "a number",
    "integer": "a whole number",
    "string": "text",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
FORMAT_WORDS = {
    "date": "a date (YYYY-MM-DD)",
    "time": "a time (HH:MM:SS with a time zone)",
    "email": "an email address",
    "uuid": "a UUID",
    "ipv4": "an IPv4 address",
    "ipv6": "an IPv6 address",
}
SHOWN_TEXT_MAX = 40
# Keywords whose value is one subschema, a list of subschemas, or a map of name to subschema:
# the places a mistyped "format" can hide.
_ONE_SCHEMA = {
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
}
_SCHEMA_LIST = {"allOf", "anyOf", "oneOf", "prefixItems"}
_SCHEMA_MAP = {"properties", "patternProperties", "$defs", "dependentSchemas"}


@dataclass(frozen=True, order=True)
class CaseDataError:
    """One problem with case data: the field (``lines[0].amount``; empty for the whole case)
    and the rule it breaks, in plain words."""

    sort_key: tuple
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field or 'the case'}: {self.message}"


class CaseDataInvalid(Exception):
    """Case data does not match the case schema of the version it would run on."""

    def __init__(self, errors: list[CaseDataError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(error) for error in errors))

    @property
    def messages(self) -> list[str]:
        return [str(error) for error in self.errors]


# ---------------------------------------------------------------------------------------------
# The schema itself


def case_schema_errors(schema: Any) -> list[str]:
    """What is wrong with a case schema as a schema, in sentences; empty when it is usable.

    A blank schema (``None`` or ``{}``) means no schema and is fine.
    """
    if schema in (None, {}):
        return []
    if not isinstance(schema, dict):
        return [SCHEMA_NOT_OBJECT]
    meta = Validator(Validator.META_SCHEMA).iter_errors(schema)
    problems = [_schema_problem(error) for error in sorted(meta, key=lambda e: list(e.path))]
    if schema.get("type") != "object":
        problems.append(SCHEMA_NOT_FOR_OBJECTS)
    resolver = Registry().with_resource("", DRAFT202012.create_resource(schema)).resolver()
    for path, node in _subschemas(schema, []):
        where = _schema_where(path)
        fmt = node.get("format")
        # jsonschema ignores a format it does not know, so a typo ("dat") would check nothing.
        if isinstance(fmt, str) and fmt not in FORMAT_CHECKER.checkers:
            known = ", ".join(sorted(FORMAT_WORDS))
            problems.append(f"{where}: the format {fmt!r} is unknown (known: {known}).")
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                resolver.lookup(ref)
            except Unresolvable:
                problems.append(f"{where}: $ref {ref!r} points to nothing in the schema.")
    return problems


def _schema_problem(error: SchemaViolation) -> str:
    path = list(error.absolute_path)
    where = _schema_where(path)
    if path and path[-1] == "type":
        types = ", ".join(TYPE_WORDS)
        return f"{where}: {_show(error.instance)} is not a JSON Schema type (use one of: {types})."
    return f"{where}: {error.message}."


def _schema_where(path: list[Any]) -> str:
    return f"In the case schema at {_path_label(path)}" if path else "The case schema"


def _subschemas(node: Any, path: list[Any]) -> Iterator[tuple[list[Any], dict]]:
    """Every subschema with its path in the schema (["properties", "lines", "items"]…)."""
    if not isinstance(node, dict):
        return
    yield path, node
    for key, value in node.items():
        if key in _ONE_SCHEMA:
            yield from _subschemas(value, [*path, key])
        elif key in _SCHEMA_LIST and isinstance(value, list):
            for i, sub in enumerate(value):
                yield from _subschemas(sub, [*path, key, i])
        elif key in _SCHEMA_MAP and isinstance(value, dict):
            for name, sub in value.items():
                yield from _subschemas(sub, [*path, key, name])


# ---------------------------------------------------------------------------------------------
# Case data against the schema


def case_data_problems(*, schema: Any, data: Any) -> list[CaseDataError]:
    """Every problem of ``data`` against ``schema`` at once, sorted by field. A blank schema
    accepts anything."""
    if not schema:
        return []
    validator = Validator(schema, format_checker=FORMAT_CHECKER)
    found = {problem for error in validator.iter_errors(data) for problem in _problems(error)}
    return sorted(found)


def case_data_errors(*, schema: Any, data: Any) -> list[str]:
    """The problems of ``data`` against ``schema`` as sentences ("amount: 'lots' is not a
    number"), sorted by field; empty when the data fits."""
    return [str(problem) for problem in case_data_problems(schema=schema, data=data)]


def case_data_check(*, schema: Any, data: Any) -> None:
    """Raise CaseDataInvalid listing every problem, or return when the data fits."""
    problems = case_data_problems(schema=schema, data=data)
    if problems:
        raise CaseDataInvalid(problems)


def _problems(error: SchemaViolation) -> Iterator[CaseDataError]:
    path = list(error.absolute_path)
    rule, value, instance = error.validator, error.validator_value, error.instance
    if rule == "required":
        # jsonschema reports each missing field on the object that lacks it.
        for name in value:
            if isinstance(instance, dict) and name not in instance:
                yield _problem([*path, name], "is required")
        return
    if rule in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        for name in _unexpected(instance, error.schema):
            yield _problem([*path, name], "is not a field this workflow expects")
        return
    yield _problem(path, _rule_sentence(error))


def _unexpected(instance: dict, schema: dict) -> list[str]:
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        name for name in instance if name not in known and not any(p.search(name) for p in patterns)
    ]


def _rule_sentence(error: SchemaViolation) -> str:
    rule, value, instance = error.validator, error.validator_value, error.instance
    shown = _show(instance)
    if rule == "type":
        types = value if isinstance(value, list) else [value]
        return f"{shown} is not {' or '.join(TYPE_WORDS.get(t, t) for t in types)}"
    if rule == "format":
        return f"{shown} is not {FORMAT_WORDS.get(value, f'a valid {value}')}"
    if rule == "enum":
        return f"{shown} is not one of {', '.join(_plain(v) for v in value)}"
    if rule == "const":
        return f"{shown} must be {_plain(value)}"
    if rule == "minimum":
        return f"{shown} is less than the minimum of {_plain(value)}"
    if rule == "exclusiveMinimum":
        return f"{shown} must be more than {_plain(value)}"
    if rule == "maximum":
        return f"{shown} is more than the maximum of {_plain(value)}"
    if rule == "exclusiveMaximum":
        return f"{shown} must be less than {_plain(value)}"
    if rule == "multipleOf":
        return f"{shown} is not a multiple of {_plain(value)}"
    if rule == "minLength":
        return f"{shown} is too short (at least {value} character{'s' * (value != 1)})"
    if rule == "maxLength":
        return f"{shown} is too long (at most {value} character{'s' * (value != 1)})"
    if rule == "pattern":
        return f"{shown} does not match the pattern {value}"
    if rule == "minItems":
        return f"has {len(instance)} item(s), needs at least {value}"
    if rule == "maxItems":
        return f"has {len(instance)} item(s), at most {value} allowed"
    if rule == "uniqueItems":
        return "has the same item more than once"
    if rule == "minProperties":
        return f"has {len(instance)} field(s), needs at least {value}"
    if rule == "maxProperties":
        return f"has {len(instance)} field(s), at most {value} allowed"
    if rule in ("anyOf", "oneOf"):
        return f"{shown} matches none of the allowed shapes"
    if rule == "not":
        return f"{shown} is not allowed here"
    # Rarer keywords: jsonschema's own message names the rule well enough.
    return f"does not satisfy {rule}: {error.message}"


def _problem(path: list[Any], message: str) -> CaseDataError:
    # Indexes sort as numbers (lines[2] before lines[10]) and before names at the same depth.
    key = tuple((0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in path)
    return CaseDataError(sort_key=(key, message), field=_path_label(path), message=message)


def _path_label(path: list[Any]) -> str:
    label = ""
    for part in path:
        if isinstance(part, int):
            label += f"[{part}]"
        else:
            label += f".{part}" if label else str(part)
    return label


def _show(value: Any) -> str:
    """A value as a person reads it in a sentence: text in quotes, JSON for the rest."""
    if isinstance(value, str):
        text = value if len(value) <= SHOWN_TEXT_MAX else value[: SHOWN_TEXT_MAX - 1] + "…"
        return f"'{text}'"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
