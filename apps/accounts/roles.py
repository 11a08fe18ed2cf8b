"""Roles are Django groups; these are their names."""

OPERATOR = "operator"
IMPLEMENTER = "implementer"
MANAGER = "manager"
ALL = (OPERATOR, IMPLEMENTER, MANAGER)
