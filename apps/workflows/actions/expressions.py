"""Safe expressions over case data, evaluated with simpleeval (no ``eval``).

Case data fields are names (``amount``), nested objects use dots or brackets
(``vendor.country``, ``lines[0]``). The whole case is ``case``, so an optional field reads
``case.get('po_number', '')`` (a field that is itself called ``case`` wins over it).
"""

from __future__ import annotations

import ast
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
            raise OutOfBounds(
                f"Bound `{expression}` could not be checked: {exc.message}",
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
