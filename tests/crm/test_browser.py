"""Log in as each role in a real browser (Debian Chromium driven by Playwright).

Screenshots of every page land in var/screenshots/ for people to look at.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crm.roles import ADMIN, MARKETING, SALES, SDR
from tests.browser import collect_errors, log_in
from tests.factories import LeadFactory, UserFactory

SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1360, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    collect_errors(page, errors)
    yield page
    context.close()
    assert errors == []


@pytest.mark.parametrize(
    ("role", "path", "heading"),
    [
        (MARKETING, "/marketing/", "Marketing"),
        (SDR, "/queue/", "SAL queue"),
        (SALES, "/pipeline/", "Pipeline"),
        (ADMIN, "/admin/", "Records behind the pages"),
    ],
)
def test_each_role_logs_in_and_sees_its_start_page(
    page, live_server, role, path, heading
):
    UserFactory(
        username=f"{role.lower()}-user",
        first_name="Robin",
        last_name="Example",
        roles=[role],
        is_staff=role == ADMIN,
    )
    LeadFactory.create_batch(3)

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/accounts/login/")
    page.screenshot(path=str(SHOTS / "login.png"))
    log_in(page, live_server, f"{role.lower()}-user")

    assert page.url == f"{live_server.url}{path}"
    assert page.locator("h1").first.inner_text() == heading
    page.screenshot(path=str(SHOTS / f"start-{role.lower()}.png"), full_page=True)


def test_wrong_password_keeps_the_user_on_the_login_page(page, live_server):
    UserFactory(username="sdr-user", roles=[SDR])
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "sdr-user")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")

    assert page.url == f"{live_server.url}/accounts/login/"
    assert "Please enter a correct username and password" in page.inner_text(
        ".alert-error"
    )
    page.screenshot(path=str(SHOTS / "login-error.png"))


def test_stylesheet_is_applied(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    button_color = page.eval_on_selector(
        "button[type=submit]", "el => getComputedStyle(el).backgroundColor"
    )
    assert button_color == "rgb(47, 91, 234)"


def test_marketer_imports_with_a_time_zone_and_sees_the_refused_owner_cell(
    page, live_server, tmp_path
):
    UserFactory(username="marketing-user", roles=[MARKETING])
    rep = UserFactory(username="rep", roles=[SALES])
    LeadFactory(email="opp@gmail.com", stage="opportunity", owner=rep)
    csv_path = tmp_path / "contacts.csv"
    csv_path.write_text(
        "Email,Create Date,Contact owner\n"
        "opp@gmail.com,2025-11-03 14:30,marketing-user\n"
        "new@gmail.com,2025-11-03 14:30,marketing-user\n"
    )
    log_in(page, live_server, "marketing-user")

    page.goto(f"{live_server.url}/leads/import/")
    page.set_input_files("#id_file", str(csv_path))
    page.select_option("#id_time_zone", "Europe/Berlin")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "import-upload.png"), full_page=True)
    page.click("text=Upload and map the columns")
    page.wait_for_load_state("networkidle")
    page.click("text=Start the import")
    page.wait_for_load_state("networkidle")

    assert "dates without an offset read in Europe/Berlin" in page.inner_text("main")
    notes = page.inner_text("#notes-title + table")
    assert "its owner changes through the pipeline, not an import." in notes
    assert "Cells refused" in page.inner_text(".import-counts")
    page.screenshot(path=str(SHOTS / "import-refused-owner.png"), full_page=True)
