"""Helpers of the browser tests: Playwright pages that log in and report errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Where the browser tests save screenshots for people to look at
#: (LEADFLOW_SCREENSHOTS=<dir> puts them elsewhere).
SCREENSHOTS = Path(
    os.environ.get("LEADFLOW_SCREENSHOTS")
    or Path(__file__).resolve().parents[1] / "var" / "screenshots"
)
#: Every factory-made user's password.
PASSWORD = "pw-for-tests"


def collect_errors(
    page: Any, errors: list[str], *, ignore: Callable[[str], bool] | None = None
) -> None:
    """Append the page's uncaught exceptions and console errors to ``errors``
    (a console error for which ``ignore`` holds is left out)."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not (ignore and ignore(msg.text))
            else None
        ),
    )


def log_in(page: Any, live_server: Any, username: str) -> None:
    """Log in through the login form and wait for the start page to settle."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
