"""Handoff settings: one module, configured by environment variables.

Production differs from development only by the environment. An integration (Sentry, email)
switches on when its variable is set. A missing or malformed variable stops start-up with a
message that names it.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()


def _read(name: str, cast, default=environ.Env.NOTSET):
    """Read one variable, turning any parse error into a message that names the variable."""
    try:
        return cast(name, default=default)
    except ImproperlyConfigured:
        raise ImproperlyConfigured(f"Set the environment variable {name}.") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ImproperlyConfigured(f"The environment variable {name} is malformed: {exc}") from None


DEBUG = _read("DJANGO_DEBUG", env.bool, False)

if DEBUG:
    SECRET_KEY = _read("DJANGO_SECRET_KEY", env.str, "insecure-debug-only-secret-key")
else:
    SECRET_KEY = _read("DJANGO_SECRET_KEY", env.str)
    if len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "The environment variable DJANGO_SECRET_KEY is malformed: use at least 32 characters."
        )

ALLOWED_HOSTS = _read("DJANGO_ALLOWED_HOSTS", env.list, ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = _read("DJANGO_CSRF_TRUSTED_ORIGINS", env.list, [])

# Where the app itself is reachable; the demo workflow calls its fake ERP here.
PORT = _read("PORT", env.int, 8000)
SITE_URL = _read("HANDOFF_SITE_URL", env.str, f"http://127.0.0.1:{PORT}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_rq",
    "ninja",
    "django_tables2",
    "django_filters",
    "template_partials",
    "apps.accounts",
    "apps.workflows",
    "apps.runs",
    "apps.escalations",
    "apps.discovery",
    "apps.alerts",
    "apps.casework",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.runs.api.middleware.ApiBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.accounts.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": _read("DATABASE_URL", env.db_url, f"sqlite:///{VAR_DIR / 'handoff.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections between requests and jobs (a new PostgreSQL connection per job costs more
# than the job); check them before reuse so a restarted database is survived.
DATABASES["default"]["CONN_MAX_AGE"] = _read("DATABASE_CONN_MAX_AGE", env.int, 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and scheduler share one SQLite file: wait for locks instead of failing at once,
    # and take the write lock at BEGIN so two writers never deadlock on an upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The inbox's covering index has INCLUDE columns, which only PostgreSQL uses; SQLite ignores them.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

REDIS_URL = _read("REDIS_URL", env.str, "redis://127.0.0.1:6379/0")
RQ_QUEUES = {
    "default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600},
}
# Handoff enqueues inside transaction.on_commit itself, so django-rq must enqueue at once.
RQ = {"COMMIT_MODE": "auto"}
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # The demo ERP's memory (idempotency records, flaky calls), shared by every web process.
    "demo_erp": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "handoff-demo-erp",
        "TIMEOUT": 24 * 3600,
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "runs:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = _read("TIME_ZONE", env.str, "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing one before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "config.storage.StaticStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# The intake API refuses bodies over 1 MiB with 413 (see apps.runs.api.middleware).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

EMAIL_CONFIG = _read("EMAIL_URL", env.email_url, "consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = _read("DEFAULT_FROM_EMAIL", env.str, "handoff@localhost")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = _read("DJANGO_SECURE_COOKIES", env.bool, False)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _read("LOG_LEVEL", env.str, "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Engine tuning (seconds unless said otherwise).
HANDOFF_SCHEDULER_INTERVAL = _read("HANDOFF_SCHEDULER_INTERVAL", env.float, 1.0)
# A running attempt's lease; its worker renews it every HEARTBEAT seconds. A worker that dies
# is noticed when its lease runs out, and its attempt recovered at the next reconcile pass.
HANDOFF_LEASE_SECONDS = _read("HANDOFF_LEASE_SECONDS", env.float, 30.0)
HANDOFF_HEARTBEAT_SECONDS = _read("HANDOFF_HEARTBEAT_SECONDS", env.float, 10.0)
# A lease must survive one missed or late renewal: with a heartbeat at half the lease or more,
# one slow UPDATE lets it run out and the reconciler takes a healthy worker's attempt back.
if HANDOFF_HEARTBEAT_SECONDS >= HANDOFF_LEASE_SECONDS / 2:
    raise ImproperlyConfigured(
        f"HANDOFF_HEARTBEAT_SECONDS ({HANDOFF_HEARTBEAT_SECONDS:g}) must be under half of "
        f"HANDOFF_LEASE_SECONDS ({HANDOFF_LEASE_SECONDS:g}), so that a lease survives a missed "
        "renewal."
    )
HANDOFF_RECONCILE_INTERVAL = _read("HANDOFF_RECONCILE_INTERVAL", env.float, 5.0)
# A queued attempt whose job is missing from Redis this long is enqueued again.
HANDOFF_REQUEUE_AFTER = _read("HANDOFF_REQUEUE_AFTER", env.float, 15.0)
# An attempt taken back from dead workers this many times is failed (it may be what kills them).
HANDOFF_MAX_RECOVERIES = _read("HANDOFF_MAX_RECOVERIES", env.int, 3)
# How long a worker keeps retrying the database before giving a job up.
HANDOFF_DB_RETRY_SECONDS = _read("HANDOFF_DB_RETRY_SECONDS", env.float, 60.0)
# A step still running this long past its own time limit is stopped hard: its worker's watchdog
# ends the process, the reconciler records a timeout, and no heartbeat renews its lease further.
HANDOFF_DEADLINE_GRACE_SECONDS = _read("HANDOFF_DEADLINE_GRACE_SECONDS", env.float, 10.0)
HANDOFF_CIRCUIT_THRESHOLD = _read("HANDOFF_CIRCUIT_THRESHOLD", env.int, 5)
HANDOFF_CIRCUIT_COOLDOWN = _read("HANDOFF_CIRCUIT_COOLDOWN", env.float, 30.0)
# A closed circuit lets its parked attempts go this many at a time, this many seconds apart, so
# a target that just recovered is not hit by all of them at once.
HANDOFF_CIRCUIT_RELEASE_BATCH = _read("HANDOFF_CIRCUIT_RELEASE_BATCH", env.int, 20)
HANDOFF_CIRCUIT_RELEASE_INTERVAL = _read("HANDOFF_CIRCUIT_RELEASE_INTERVAL", env.float, 1.0)
if HANDOFF_CIRCUIT_RELEASE_BATCH < 1:
    raise ImproperlyConfigured(
        f"HANDOFF_CIRCUIT_RELEASE_BATCH ({HANDOFF_CIRCUIT_RELEASE_BATCH}) must be at least 1."
    )

SENTRY_DSN = _read("SENTRY_DSN", env.str, "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.rq import RqIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), RqIntegration()],
        environment=_read("SENTRY_ENVIRONMENT", env.str, "production"),
        traces_sample_rate=_read("SENTRY_TRACES_SAMPLE_RATE", env.float, 0.0),
        send_default_pii=False,
    )
