"""Writes for alerts: incidents raised and cleared by what watches the system."""

from .incidents import incident_clear, incident_raise  # noqa: F401
