from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="teams", blank=True)
    default_sla_minutes = models.PositiveIntegerField(
        default=240, help_text="Time an operator has to resolve an escalation of normal priority."
    )
    max_human_minutes = models.PositiveIntegerField(
        default=60,
        help_text="Cap on the minutes counted from claim to resolve of one escalation (people "
        "leave cases claimed over lunch).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # Scope, not a role: who holds it sees every team's cases (what they may do with them
        # is still up to their role). Staff status is for Django admin only.
        permissions = [("view_all_teams", "Can see the cases of every team")]

    def __str__(self) -> str:
        return self.name
