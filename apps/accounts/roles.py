"""Roles are Django groups; these are their names."""

OPERATOR = "operator"
IMPLEMENTER = "implementer"
MANAGER = "manager"
ALL = (OPERATOR, IMPLEMENTER, MANAGER)

# Not a role but a scope: its one permission lets members see every team. Combine it with a
# role (an operator in it may act on any team's case; a manager in it reads every team).
SUPERVISOR = "supervisor"
VIEW_ALL_TEAMS = "accounts.view_all_teams"
