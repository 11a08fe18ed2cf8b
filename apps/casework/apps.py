from django.apps import AppConfig


class CaseworkConfig(AppConfig):
    """Cases worked outside the automation: what the measured baseline and the bypass are
    made of (manual cases, timed or typed) and the source system's census of cases."""

    name = "apps.casework"
    label = "casework"
