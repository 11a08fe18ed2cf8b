from django.apps import AppConfig


class EscalationsConfig(AppConfig):
    name = "apps.escalations"
    label = "escalations"

    def ready(self) -> None:
        from apps.runs.hooks import register_handover

        from .services.opening import InboxHandover

        register_handover(InboxHandover())
