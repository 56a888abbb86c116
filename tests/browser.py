"""Helpers of the browser tests: Playwright pages that log in and report errors,
and a watch that fails a test on whatever goes wrong on a page."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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


#: Runs in every document the watched page opens: after the page has loaded
#: and after every htmx swap has settled, it reports how wide the page is.
_WIDTH_WATCH = """
(() => {
  const report = (when) => window.leadflowPageWidth(
    location.href, document.documentElement.scrollWidth, window.innerWidth, when
  );
  window.addEventListener("load", () => report("after loading"));
  document.addEventListener("htmx:afterSettle", () => report("after an htmx swap"));
})();
"""
#: What Chromium logs to the console for a failed request or a response of
#: status 400 or more (each reported, or expected, through its own event).
_FAILED_RESOURCE = "Failed to load resource:"


@dataclass
class PageWatch:
    """What went wrong on one Playwright page, each problem with its URL.

    ``problems`` collects every console error, uncaught exception, failed
    request, response of status 400 or more that the test did not expect, and
    every time the page grew wider than the window; ``checks`` counts the
    width checks made (one per loaded document and per settled htmx swap).
    """

    page: Any
    problems: list[str] = field(default_factory=list)
    checks: int = 0
    expected: list[tuple[int, str]] = field(default_factory=list)
    seen: list[tuple[int, str]] = field(default_factory=list)

    def start(self) -> None:
        """Listen to the page (before it opens anything)."""
        page = self.page
        page.expose_function("leadflowPageWidth", self._width)
        page.add_init_script(_WIDTH_WATCH)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self._add(page.url, f"uncaught {exc}"))
        page.on(
            "requestfailed",
            lambda request: self._add(
                request.url, f"{request.method} failed ({request.failure})"
            ),
        )
        page.on("response", self._response)

    @contextmanager
    def expecting(self, status: int, path: str) -> Iterator[None]:
        """Let ``path`` answer ``status`` within the block; it must do so."""
        allowed = (status, path)
        self.expected.append(allowed)
        try:
            yield
            assert allowed in self.seen, f"{path} never answered {status}"
        finally:
            self.expected.remove(allowed)

    def check_width(self, when: str = "when checked") -> None:
        """Measure the page as it is now."""
        self._width(
            self.page.url,
            *self.page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            ),
            when,
        )

    def assert_clean(self) -> None:
        self.check_width("at the end")
        assert not self.problems, "The page went wrong:\n" + "\n".join(self.problems)

    def _add(self, url: str, problem: str) -> None:
        self.problems.append(f"{url}: {problem}")

    def _width(self, url: str, scroll_width: int, inner_width: int, when: str) -> None:
        self.checks += 1
        if scroll_width > inner_width:
            self._add(url, f"{scroll_width}px wide in a {inner_width}px window {when}")

    def _console(self, message: Any) -> None:
        if message.type != "error" or message.text.startswith(_FAILED_RESOURCE):
            return
        self._add(
            message.location.get("url") or self.page.url,
            f"console error: {message.text}",
        )

    def _response(self, response: Any) -> None:
        if response.status < 400:
            return
        if self._is_expected(response.url, response.status):
            self.seen.append((response.status, urlsplit(response.url).path))
            return
        self._add(
            response.url,
            f"{response.request.method} answered {response.status} unexpectedly",
        )

    def _is_expected(self, url: str, status: int) -> bool:
        return (status, urlsplit(url).path) in self.expected


@contextmanager
def page_watch(page: Any) -> Iterator[PageWatch]:
    """Watch ``page`` within the block and fail at its end if anything went
    wrong (see ``PageWatch``), naming each problem's URL.

    Start it before the page opens anything. A problem the block's own
    failure may explain is added to that failure as a note instead.
    """
    watch = PageWatch(page)
    watch.start()
    try:
        yield watch
    except BaseException as exc:
        if watch.problems:
            exc.add_note("The page went wrong:\n" + "\n".join(watch.problems))
        raise
    watch.assert_clean()
