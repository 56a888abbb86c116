"""The browser tests' page watch catches what goes wrong on a page (Chromium).

Each page here is made up by the test (Playwright answers its requests), so
it can go wrong on purpose: grow wider than the window, log an error, throw,
lose a request or answer one with 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import PageWatch, page_watch

pytestmark = pytest.mark.browser
SITE = "http://leadflow.test"
HTMX = Path(__file__).resolve().parents[2] / "static/vendor/htmx-2.0.11.min.js"
#: A page of one button that swaps in what /part/ answers.
SWAP_PAGE = (
    '<script src="/htmx.js"></script>'
    '<button hx-get="/part/" hx-target="#slot">Show</button><div id="slot"></div>'
)
WIDE = '<div style="width: 3000px">A row with no room to wrap</div>'


@pytest.fixture
def answers() -> dict[str, tuple[int, str] | None]:
    """What the made-up site answers, by path: a status and a body, or None
    for a request that fails."""
    return {"/htmx.js": (200, HTMX.read_text())}


@pytest.fixture
def page(browser, answers) -> Iterator[Any]:
    """A 1440x900 page whose requests the made-up site answers."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()

    def answer(route: Any) -> None:
        path = route.request.url.removeprefix(SITE)
        if answers[path] is None:
            route.abort()
            return
        status, body = answers[path]
        kind = "text/javascript" if path.endswith(".js") else "text/html"
        route.fulfill(status=status, body=body, content_type=kind)

    page.route(f"{SITE}/**", answer)
    yield page
    context.close()


def _open(page: Any, answers: dict, body: str) -> PageWatch:
    """Watch ``page``, then open ``body`` as the site's page /."""
    watch = PageWatch(page)
    watch.start()
    answers["/"] = (200, f"<body style='margin: 0'>{body}</body>")
    page.goto(f"{SITE}/")
    return watch


def _problems(watch: PageWatch) -> list[str]:
    # Let the page's reports reach the watch.
    watch.page.wait_for_timeout(100)
    return watch.problems


def test_a_page_that_fits_the_window_is_no_problem(page, answers):
    watch = _open(page, answers, "<p>Fits.</p>")

    assert _problems(watch) == []
    assert watch.checks == 1


def test_a_page_wider_than_the_window_once_loaded_is_named(page, answers):
    watch = _open(page, answers, WIDE)

    assert _problems(watch) == [
        f"{SITE}/: 3000px wide in a 1440px window after loading"
    ]


def test_a_page_an_htmx_swap_makes_wider_than_the_window_is_named(page, answers):
    answers["/part/"] = (200, WIDE)
    watch = _open(page, answers, SWAP_PAGE)
    assert _problems(watch) == []

    page.get_by_role("button", name="Show").click()
    page.get_by_text("A row with no room to wrap").wait_for()

    assert _problems(watch) == [
        f"{SITE}/: 3000px wide in a 1440px window after an htmx swap"
    ]
    assert watch.checks == 2


def test_console_errors_and_uncaught_exceptions_are_named(page, answers):
    watch = _open(
        page,
        answers,
        "<script>console.error('The board is empty');"
        "throw new Error('No card to draw');</script>",
    )

    assert _problems(watch) == [
        f"{SITE}/: console error: The board is empty",
        f"{SITE}/: uncaught No card to draw",
    ]


def test_failed_requests_and_answers_of_400_or_more_are_named(page, answers):
    answers |= {"/gone.png": (404, ""), "/down.png": None}

    watch = _open(
        page, answers, '<img src="/gone.png" alt=""><img src="/down.png" alt="">'
    )

    assert sorted(_problems(watch)) == [
        f"{SITE}/down.png: GET failed (net::ERR_FAILED)",
        f"{SITE}/gone.png: GET answered 404 unexpectedly",
    ]


def test_an_expected_answer_is_no_problem_but_must_come(page, answers):
    answers["/gone/"] = (404, "<p>Page not found</p>")
    watch = _open(page, answers, "<p>Start</p>")

    with watch.expecting(404, "/gone/"):
        page.goto(f"{SITE}/gone/")
    with pytest.raises(AssertionError, match="/gone/ never answered 403"):  # noqa: SIM117
        with watch.expecting(403, "/gone/"):
            pass

    assert _problems(watch) == []
    page.goto(f"{SITE}/gone/")
    assert _problems(watch) == [f"{SITE}/gone/: GET answered 404 unexpectedly"]


def test_the_watch_fails_at_the_end_of_its_block_naming_the_url(page, answers):
    answers["/"] = (200, f"<body style='margin: 0'>{WIDE}</body>")

    with pytest.raises(AssertionError) as failed:  # noqa: SIM117
        with page_watch(page):
            page.goto(f"{SITE}/")

    assert str(failed.value).startswith(
        f"The page went wrong:\n{SITE}/: 3000px wide in a 1440px window"
    )
