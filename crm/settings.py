"""Leadflow settings: one module, every environment difference is a variable.

With no configuration at all Leadflow runs on the embedded default: SQLite
under ``var/``, Celery tasks executed eagerly in-process, e-mail printed to
the console, a secret generated in ``var/`` and DEBUG off. ``make run`` (and
the test suite) set ``DEBUG=true`` for development. Production sets
``DATABASE_URL`` (PostgreSQL), ``CELERY_BROKER_URL`` or ``REDIS_URL``,
``SECRET_KEY`` and ``ALLOWED_HOSTS``. See ``.env.example``.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path

import environ
from babel.numbers import list_currencies
from celery.schedules import crontab
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

_ISO_CURRENCIES = frozenset(list_currencies())
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# GENERAL
# ------------------------------------------------------------------------------
# Off unless set: a process started with no configuration (a bare gunicorn)
# must never answer an error with the debug page, which shows the settings
# and the request's data to whoever caused the error. `make run` and the test
# settings turn it on; the web and Celery processes warn at start-up when it
# is on (crm.checks.warn_if_debug).
DEBUG = env.bool("DEBUG", default=False)

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_TZ = True
USE_I18N = True
LANGUAGE_CODE = "en-us"

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles, whose runserver crm's extends (the first app with a
    # command of a name wins): the dev server runs the beat schedule.
    "crm",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "leads",
    "scoring",
    "handoff",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A warning in the log when requests look proxied and NUM_PROXIES is 0.
    "crm.middleware.ProxySettingMiddleware",
    "crm.middleware.NulRefusedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user's permissions, groups and manager flag in one query.
    "crm.middleware.UserFactsMiddleware",
    # Who is acting, for audit rows written by signal receivers (crm.audit).
    "crm.audit.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "crm.middleware.NoStoreMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # The product's 404 page with DEBUG on too; inside the session, user and
    # CSP middleware so the page has the user's navigation and the headers.
    "crm.middleware.NotFoundPageMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during the view into
    # the 429 answer (crm.api.auth.lockout_response).
    "axes.middleware.AxesMiddleware",
]

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
                "crm.context_processors.navigation",
            ],
        },
    },
]

# DATABASES
# ------------------------------------------------------------------------------
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# postgres:// URLs use the psycopg 3 driver that Django picks automatically.
DATABASES = {
    "default": env.db(
        "DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadflow.sqlite3'}"
    )
}
# SQLite is the embedded default, for development and demos on one machine;
# a server runs on PostgreSQL. What only a development database may do
# without being asked (a generated secret, demo logins) keys on this.
EMBEDDED_DATABASE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if EMBEDDED_DATABASE:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the dev server read while seed_demo or a task writes.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    # Keep connections for a while and check them before use, so a restarted
    # PostgreSQL costs one failed request, not a web process restart.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# The funnel sums its daily roll-up (crm.marketing.rollup) instead of reading
# every lead: on for PostgreSQL, where a million leads make the live funnel
# slow; off on the embedded SQLite default, whose demos are small.
FUNNEL_ROLLUP = env.bool("FUNNEL_ROLLUP", default=not EMBEDDED_DATABASE)
# Rule analytics sum their daily roll-up (crm.marketing.rule_rollup) instead of
# reading every scored lead and rejection of the period: on for PostgreSQL,
# where a million leads take the live count past ten seconds.
RULE_ROLLUP = env.bool("RULE_ROLLUP", default=not EMBEDDED_DATABASE)


def _development_secret() -> str:
    """Return a per-checkout secret kept in var/, so sessions survive restarts."""
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        # Readable by the owner only, like the SQLite file beside it should be.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


# The embedded default (SQLite on this machine) uses the secret generated in
# var/ when none is set, with DEBUG on or off, so `manage.py migrate`,
# `seed_demo` and `check` work with no configuration at all. A server on
# PostgreSQL must bring its own: a forgotten SECRET_KEY fails loudly there.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or EMBEDDED_DATABASE:
        SECRET_KEY = _development_secret()
    else:
        raise ImproperlyConfigured(
            "Set SECRET_KEY when DEBUG is false. (DEBUG=true, for development "
            "only, uses a secret generated in var/.)"
        )

# AUTHENTICATION
# ------------------------------------------------------------------------------
# The lockout check of django-axes runs before the password check, so a
# locked-out client is refused even with the right password.
AUTHENTICATION_BACKENDS = [
    "crm.api.auth.LoginAttemptBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "crm:home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC FILES
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
if DEBUG:
    # WhiteNoise serves from the finders in DEBUG but warns when the root is missing.
    Path(STATIC_ROOT).mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# E-MAIL
# ------------------------------------------------------------------------------
# With no EMAIL_URL, mail goes to the console (the embedded default).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="leadflow@localhost")
# The address people open Leadflow at, for links in e-mails (no trailing slash).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The one currency of every amount (deal values, campaign spend): an ISO 4217
# code such as USD, EUR or GBP.
CURRENCY = env.str("CURRENCY", default="USD").strip().upper()
if CURRENCY not in _ISO_CURRENCIES:
    raise ImproperlyConfigured(
        f"CURRENCY={CURRENCY!r} is not an ISO 4217 currency code; use one such "
        "as USD, EUR or GBP."
    )

# CELERY
# ------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or env.str(
    "REDIS_URL", default=""
)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if CELERY_TASK_ALWAYS_EAGER:
    # Eager tasks never reach a broker; name an in-memory one so Celery does
    # not go looking for a default on localhost.
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_BACKEND = None if CELERY_TASK_ALWAYS_EAGER else CELERY_BROKER_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Time limits stay below the broker's visibility timeout, so a message is only
# redelivered once the task that holds it is certainly dead.
# The reliability harness shortens the timeout (and with it the limits) so a
# killed worker's message comes back within its run.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
CELERY_TASK_TIME_LIMIT = min(900, CELERY_VISIBILITY_TIMEOUT * 3 // 4)
CELERY_TASK_SOFT_TIME_LIMIT = min(600, CELERY_TASK_TIME_LIMIT * 2 // 3)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Separate queues so a publish's bulk chunks never starve real-time rescoring
# (the Procfile runs one worker for realtime+default and one for bulk).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "scoring.rescore_leads": {"queue": "realtime"},
    "scoring.refresh_account_rollups": {"queue": "realtime"},
    "scoring.rescore_all": {"queue": "bulk"},
    "scoring.rescore_chunk": {"queue": "bulk"},
    "scoring.preview_publish": {"queue": "bulk"},
    "scoring.preview_chunk": {"queue": "bulk"},
    "leads.import_csv": {"queue": "bulk"},
    "leads.apply_tracking_retention": {"queue": "bulk"},
    "crm.rebuild_funnel_all": {"queue": "bulk"},
    "crm.rebuild_rule_rollup_all": {"queue": "bulk"},
    # The minute roll-ups too: a rule roll-up run takes seconds of Python,
    # which on the realtime worker left one process to rescore while it ran.
    # On the niced bulk worker they wait behind a publish's chunks instead
    # (the dashboards read the roll-up as of its last run).
    "crm.rebuild_funnel": {"queue": "bulk"},
    "crm.rebuild_rule_rollup": {"queue": "bulk"},
    "crm.rebuild_attribution": {"queue": "bulk"},
    "crm.rebuild_all_attribution": {"queue": "bulk"},
    "crm.replay_model": {"queue": "bulk"},
    "scoring.suggest_model": {"queue": "bulk"},
    "crm.count_rule_candidates": {"queue": "bulk"},
    "handoff.open_for_mql": {"queue": "realtime"},
    "handoff.escalate": {"queue": "timers"},
    "handoff.send_notification": {"queue": "timers"},
    "handoff.send_owner_change": {"queue": "timers"},
}
# Beat's once-a-minute timers; the reliability harness runs them more often
# (TIMER_INTERVAL_SECONDS) to fit its deadlines into a CI run.
_TIMER_SECONDS = env.int("TIMER_INTERVAL_SECONDS", default=0)
_EVERY_MINUTE = _TIMER_SECONDS if _TIMER_SECONDS > 0 else crontab()
# Rescores still marked after this long are re-enqueued by the reconciler (a
# minute, so with the minute beat a lost message costs at most two minutes).
RESCORE_RECONCILE_AFTER_SECONDS = env.int("RESCORE_RECONCILE_AFTER_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    # * * * * *: remind at-risk handoffs, expire, escalate and reassign overdue
    # ones, open handoffs for MQLs whose task was lost (reliability rule 2).
    "every-minute-expire-overdue-handoffs": {
        "task": "handoff.escalate",
        "schedule": _EVERY_MINUTE,
    },
    # * * * * *: re-enqueue rescores whose message was lost (reliability rule 1).
    "every-minute-reconcile-rescores": {
        "task": "scoring.reconcile",
        "schedule": _EVERY_MINUTE,
    },
    # * * * * *: rebuild the campaign credits of the days marked since the
    # last run (lead created, stage first entered, deal won, lead erased).
    "every-minute-rebuild-campaign-attribution": {
        "task": "crm.rebuild_attribution",
        "schedule": _EVERY_MINUTE,
    },
    # 15 3 * * *: mark every day with conversions, for the minute runs to
    # rebuild (backdated touchpoints and admin edits leave no mark).
    "nightly-rebuild-campaign-attribution": {
        "task": "crm.rebuild_all_attribution",
        "schedule": crontab(hour=3, minute=15),
    },
    # * * * * *: rebuild the funnel roll-up's days that changed leads touch.
    "every-minute-rebuild-funnel-rollup": {
        "task": "crm.rebuild_funnel",
        "schedule": _EVERY_MINUTE,
    },
    # * * * * *: count the dashboard's "Today" figures (leads by stage, the
    # week's touchpoints), which the page reads from the cache.
    "every-minute-refresh-today": {
        "task": "crm.refresh_today",
        "schedule": _EVERY_MINUTE,
    },
    # 45 3 * * *: rebuild every day of the funnel roll-up (catches leads deleted
    # outright and changes committed after the refresh's overlap).
    "nightly-rebuild-funnel-rollup": {
        "task": "crm.rebuild_funnel_all",
        "schedule": crontab(hour=3, minute=45),
    },
    # 10 4 * * *: delete anonymous tracking history past its source's retention.
    "nightly-apply-tracking-retention": {
        "task": "leads.apply_tracking_retention",
        "schedule": crontab(hour=4, minute=10),
    },
    # * * * * *: rebuild rule analytics' roll-up days that changed, rescored or
    # decided leads and new rejections touch.
    "every-minute-rebuild-rule-rollup": {
        "task": "crm.rebuild_rule_rollup",
        "schedule": _EVERY_MINUTE,
    },
    # 55 3 * * *: rebuild every day of rule analytics' roll-up (catches leads
    # deleted outright and first-touch campaigns changed by late touchpoints).
    "nightly-rebuild-rule-rollup": {
        "task": "crm.rebuild_rule_rollup_all",
        "schedule": crontab(hour=3, minute=55),
    },
    # 30 2 * * *: re-apply engagement decay to every lead (bulk path).
    "nightly-apply-score-decay": {
        "task": "scoring.apply_decay",
        "schedule": crontab(hour=2, minute=30),
    },
}
# With no broker there is no beat either: the dev server (manage.py runserver,
# make run) runs the schedule above in a thread of its own, so a demo's SLA
# clocks move (crm.embedded_timers). EMBEDDED_TIMERS=false turns that off.
EMBEDDED_TIMERS = CELERY_TASK_ALWAYS_EAGER and env.bool("EMBEDDED_TIMERS", default=True)

# REST API
# ------------------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's token authentication, reading the user's permissions in the
        # same query (crm/api/token_auth.py).
        "crm.api.token_auth.TokenPermissionsAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["leads.api.permissions.RoleModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "leads.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "form_submit": env.str("FORM_RATE", default="20/min"),
        # Messages per tracking write key (/segment/v1/): a busy site's
        # snippet, or a server SDK's batches, stay well under 200 a second.
        "tracking": env.str("TRACKING_RATE", default="12000/min"),
    },
    # Rate limits key on the client IP: trust X-Forwarded-For only for this many
    # proxies in front of the app (0: use REMOTE_ADDR), or a client could send a
    # new forged address with every request and never be limited. Behind a
    # proxy left at 0, every client has the proxy's address and shares one
    # login lockout and one rate limit (crm.middleware warns in the log).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Leadflow API",
    "DESCRIPTION": "Leads, touchpoints and web-form capture. Authenticate with "
    "`Authorization: Token <key>` (python manage.py drf_create_token <username>).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI files come from the pinned sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "leads.models.Stage",
        "SeniorityEnum": "leads.titles.Seniority",
        "ScoringModelStatusEnum": "scoring.models.ScoringModel.Status",
        "ScoringRuleOperatorEnum": "scoring.models.ScoringRule.Operator",
        "ContactAttemptOutcomeEnum": "handoff.models.ContactAttempt.Outcome",
        "SuggestionOutcomeEnum": "scoring.suggestion.OUTCOMES",
    },
}
# A batch of 1,000 touchpoints with their properties fits well within this;
# larger bodies are refused with 413 before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5_242_880)

# CACHE (rate limits of the public form)
# ------------------------------------------------------------------------------
_REDIS_CACHE_URL = env.str("REDIS_URL", default="") or CELERY_BROKER_URL
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": _REDIS_CACHE_URL,
    }
    if _REDIS_CACHE_URL.startswith("redis")
    # Embedded default: one process, so a per-process cache is enough.
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Joining the browsers' HSTS preload list is hard to undo, so it is the
# operator's opt-in (SECURE_HSTS_PRELOAD=true), not a deploy-check failure.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Covering indexes (INCLUDE columns) are PostgreSQL's; the embedded SQLite
# default builds them without the extra columns, which costs only speed there.
SILENCED_SYSTEM_CHECKS += ["models.W040"]

# Content-Security-Policy on every answer (django-csp 4). Scripts and styles
# come only from our own static files: templates carry no inline <script>,
# style= or on*= attributes, and htmx is told not to inject its indicator
# <style> (htmx-config meta tag in base.html). The Swagger UI page is the one
# exception, relaxed on that view only (crm.api.urls).
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "form-action": [csp.SELF],
    },
}
# The debug page and error reports mask URL passwords (broker, cache, the
# environment) and the request's personal fields, on top of what Django hides.
DEFAULT_EXCEPTION_REPORTER_FILTER = "crm.error_reports.ReporterFilter"
# Django sends Cross-Origin-Opener-Policy: same-origin by default; say so.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# BRUTE-FORCE PROTECTION (django-axes, login form and POST /api/v1/auth/token/)
# ------------------------------------------------------------------------------
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Count failures per username *and* client address: an attacker guessing one
# account is locked out of it from their address, but can neither lock the
# real user out from elsewhere (username alone would) nor lock out everyone
# behind a shared office NAT (address alone would).
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The same client address as the API's rate limits (NUM_PROXIES above).
AXES_CLIENT_IP_CALLABLE = "crm.api.auth.client_ip"
# 429 with Retry-After: a page for the login form, JSON for the API.
AXES_LOCKOUT_CALLABLE = "crm.api.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A lockout lasts one cool-off from the failure that caused it. Attempts
# during it (right password or wrong) are refused without being counted:
# if each restarted the cool-off (axes' default), anyone who knows a
# username could keep its owner locked out indefinitely.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Masked in the attempt rows (the password always is).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # At DEBUG this logs every failed template lookup with the whole
        # context (CSRF tokens, form data); never wanted in a log.
        "django.template": {"level": "INFO"},
    },
}

# Input limits
# ------------------------------------------------------------------------------
# Every API view parses with these unless it names its own: JSON nested past
# Python's recursion limit and form fields that are not UTF-8 are a 400 that
# says so, not a 500 or stored U+FFFD (leads.api.parsers).
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "leads.api.parsers.SafeJSONParser",
    "leads.api.parsers.SafeFormParser",
    "rest_framework.parsers.MultiPartParser",
]
