"""``manage.py check --deploy`` passes with production variables.

Run as its own process, as an operator would, so settings are read from the
environment exactly as in production (DEBUG off, a real secret, HSTS on).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="leadflow.example.com",
        # The test run's PostgreSQL when there is one, else a scratch SQLite.
        DATABASE_URL=os.environ.get("DATABASE_URL")
        or f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        SECURE_HSTS_SECONDS="31536000",
    )
    return env


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_variables(tmp_path):
    result = run_check(production_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_without_hsts(tmp_path):
    """The check is not vacuous: drop one production setting and it fails."""
    env = production_env(tmp_path)
    env["SECURE_HSTS_SECONDS"] = "0"

    result = run_check(env)

    assert result.returncode == 1
    assert "security.W004" in result.stderr
