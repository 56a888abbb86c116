"""The two runtime modes, checked in fresh processes with controlled environments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG_VARS = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "SECURE_HSTS_SECONDS",
    "CURRENCY",
}
PROBE = """
import json, django
django.setup()
from django.conf import settings
from crm.celery import app
print(json.dumps({
    "debug": settings.DEBUG,
    "engine": settings.DATABASES["default"]["ENGINE"],
    "name": str(settings.DATABASES["default"]["NAME"]),
    "eager": app.conf.task_always_eager,
    "broker": settings.CELERY_BROKER_URL,
    "email": settings.EMAIL_BACKEND,
    "use_tz": settings.USE_TZ,
    "secret_len": len(settings.SECRET_KEY),
    "session_secure": settings.SESSION_COOKIE_SECURE,
}))
"""


def _run(args: list[str], **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    env.update(DJANGO_SETTINGS_MODULE="crm.settings", **extra_env)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_no_configuration_gives_the_embedded_default_with_debug_off():
    """A bare process (gunicorn started with no variables) never serves the
    debug page; the embedded database keeps its generated secret in var/."""
    result = _run(["-c", PROBE])
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["engine"] == "django.db.backends.sqlite3"
    assert probe["name"] == str(ROOT / "var" / "leadflow.sqlite3")
    assert probe["eager"] is True
    assert probe["broker"] == "memory://"
    assert probe["email"] == "django.core.mail.backends.console.EmailBackend"
    assert probe["use_tz"] is True
    assert probe["secret_len"] >= 50
    assert probe["session_secure"] is True


def test_debug_true_is_the_development_mode():
    result = _run(["-c", PROBE], DEBUG="true")
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is True
    assert probe["engine"] == "django.db.backends.sqlite3"
    assert probe["secret_len"] >= 50
    assert probe["session_secure"] is False


def test_no_configuration_runs_manage_py_check():
    result = _run(["manage.py", "check"])

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_embedded_sqlite_file_elsewhere_needs_no_secret(tmp_path):
    """As CI runs migrate and seed_demo on a scratch SQLite file."""
    result = _run(["-c", PROBE], DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}")
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["secret_len"] >= 50


WSGI_START = "import crm.wsgi"
DEBUG_WARNING = "DEBUG is on: an error answers with Django's debug page"


def test_web_process_warns_at_start_when_debug_is_on():
    result = _run(["-c", WSGI_START], DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert f"WARNING crm.checks {DEBUG_WARNING}" in result.stderr


def test_web_process_starts_quietly_with_debug_off():
    result = _run(["-c", WSGI_START])

    assert result.returncode == 0, result.stderr
    assert DEBUG_WARNING not in result.stderr


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7Gq2-production-test-secret-key-with-enough-entropy-9fK3pL0vZ",
    "ALLOWED_HOSTS": "leadflow.example.com",
    "DATABASE_URL": "postgres://leadflow:pw@127.0.0.1:5432/leadflow",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECURE_HSTS_SECONDS": "31536000",
}


def test_production_configuration_uses_postgres_and_redis():
    result = _run(["-c", PROBE], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["debug"] is False
    assert probe["engine"] == "django.db.backends.postgresql"
    assert probe["eager"] is False
    assert probe["broker"] == "redis://127.0.0.1:6379/0"
    assert probe["session_secure"] is True


def test_production_configuration_passes_check_deploy():
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_without_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = _run(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "Set SECRET_KEY when DEBUG is false." in result.stderr


def test_a_currency_that_is_not_iso_4217_stops_the_start_with_what_to_use():
    result = _run(["-c", PROBE], DEBUG="true", CURRENCY="dollars")

    assert result.returncode != 0
    assert "CURRENCY='DOLLARS' is not an ISO 4217 currency code" in result.stderr
