from django.apps import AppConfig


class DiscoveryConfig(AppConfig):
    name = "apps.discovery"
    label = "discovery"
    verbose_name = "Process discovery"
