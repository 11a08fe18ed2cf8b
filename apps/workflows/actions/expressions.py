"""Safe expressions over case data, evaluated with simpleeval (no ``eval``).

Case data fields are names (``amount``), nested objects use dots or brackets
(``vendor.country``, ``lines[0]``). The whole case is ``case``, so an optional field reads
``case.get('po_number', '')`` (a field that is itself called ``case`` wins over it).
"""

from __future__ import annotations

import ast
import json
from typing import Any

import simpleeval

from .errors import OutOfBounds, PermanentError

FUNCTIONS = {
    "abs": abs,
    "bool": bool,
    "float": float,
    "int": int,
    "len": len,
    "lower": lambda s: str(s).lower(),
    "max": max,
    "min": min,
    "round": round,
    "str": str,
    "upper": lambda s: str(s).upper(),
}


def syntax_error(expression: Any) -> str | None:
    """The reason an expression cannot be used, or None when it parses."""
    if not isinstance(expression, str) or not expression.strip():
        return "must be a non-empty text expression"
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        return f"does not parse: {exc.msg} at column {exc.offset}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return f"uses the private attribute {node.attr!r}"
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id not in FUNCTIONS
        ):
            return (
                f"calls {node.func.id}(), which is not allowed "
                f"(allowed: {', '.join(sorted(FUNCTIONS))})"
            )
    return None


def names_in(expression: str) -> list[str]:
    """Top-level data fields an expression reads, in order of appearance."""
    seen: list[str] = []
    for node in ast.walk(ast.parse(expression.strip(), mode="eval")):
        if isinstance(node, ast.Name) and node.id not in (*FUNCTIONS, "case", *seen):
            seen.append(node.id)
    return seen


def evaluate(expression: str, data: dict[str, Any]) -> Any:
    """Evaluate against case data; a missing field or a type error is a PermanentError."""
    evaluator = simpleeval.EvalWithCompoundTypes(names={"case": data, **data}, functions=FUNCTIONS)
    try:
        return evaluator.eval(expression.strip())
    except simpleeval.NameNotDefined as exc:
        raise PermanentError(
            f"The expression `{expression}` needs the field {exc.name!r}, which the case "
            "does not have.",
            code="missing_field",
        ) from exc
    except (
        simpleeval.InvalidExpression,
        ArithmeticError,
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
    ) as exc:
        raise PermanentError(
            f"The expression `{expression}` could not be evaluated: {exc}", code="expression_error"
        ) from exc


def check_bounds(bounds: list[str], data: dict[str, Any]) -> None:
    """Raise OutOfBounds naming the first expression that does not hold and the values it read."""
    for expression in bounds:
        values = {name: data.get(name) for name in names_in(expression)}
        try:
            holds = evaluate(expression, data)
        except PermanentError as exc:
            why = exc.message
            if isinstance(exc.__cause__, TypeError):
                why = _type_mismatch(expression, data, values)
            raise OutOfBounds(
                f"Bound `{expression}` could not be checked: {why}",
                expression=expression,
                values=values,
            ) from exc
        if not holds:
            shown = ", ".join(f"{name} = {value!r}" for name, value in values.items())
            raise OutOfBounds(
                f"Bound `{expression}` does not hold: {shown or 'no fields read'}.",
                expression=expression,
                values=values,
            )


ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def kind_of(value: Any) -> str:
    """A value's JSON kind in plain words."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_mismatch(expression: str, data: dict[str, Any], values: dict[str, Any]) -> str:
    """Plain words for a type error: which field holds what, instead of Python's wording
    ("'<=' not supported between instances of 'str' and 'int'")."""
    for left, right in _orderings(ast.parse(expression.strip(), mode="eval")):
        sides = [(side, _value_of(side, data)) for side in (left, right)]
        if not any(_is_number(value) for _, value in sides):
            continue
        for side, value in sides:
            if value is not _UNKNOWN and not _is_number(value):
                name, kind = ast.unparse(side), kind_of(value)
                return (
                    f"{name} is {_shown(value)} ({kind}), which cannot be compared with a number."
                )
    shown = ", ".join(f"{name} is {_shown(v)} ({kind_of(v)})" for name, v in values.items())
    return f"{shown or 'the values it reads'}: these kinds of values cannot be combined this way."


def _orderings(tree: ast.AST):
    """The (left, right) operands of every <, <=, >, >= in the expression."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
                if isinstance(op, ORDERING):
                    yield left, right


_UNKNOWN = object()


def _shown(value: Any) -> str:
    # As the case data holds it (JSON), not as Python writes it.
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return repr(value)


def _value_of(node: ast.expr, data: dict[str, Any]) -> Any:
    try:
        return evaluate(ast.unparse(node), data)
    except PermanentError:
        return _UNKNOWN
