"""Settings for worker processes that may run the test-only actions of tests/chaos/actions.py."""

from config.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.chaos.actions.ChaosActionsConfig"]  # noqa: F405
