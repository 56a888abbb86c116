"""How leads arrive and move: cold, job-seeker, warm and hot journeys."""

from __future__ import annotations

from crm.demo.catalogue import (
    _CAREER_PAGES,
    _CHAT_TOPICS,
    _HOME_CAMPAIGNS,
    _SITE,
    _Choice,
)
from crm.demo.defaults import Stage
from crm.demo.journeys import _Journey
from crm.demo.sales import _sales_funnel


def _entry(j: _Journey, options: _Choice[str]) -> None:
    """The first touchpoint: the moment the lead was created."""
    entry = options.pick(j.rng)
    if entry == "event" and j.event_scan():
        return
    if entry == "webinar" and j.webinar():
        return
    if entry in ("event", "webinar", "download"):
        j.download()
    elif entry == "blog":
        j.blog_view()
    elif entry == "home":
        j.page_view("/", _HOME_CAMPAIGNS)
    elif entry == "pricing":
        j.pricing_view()
    elif entry == "newsletter":
        j.touch(
            "form_submit",
            {"form": "newsletter-signup", "url": f"{_SITE}/blog"},
            j.world.campaign_on("seo", j.now.date()),
        )
    elif entry == "email":
        j.email(click=0.0)
        if not j.touches:  # no e-mail to open yet: came in through the blog
            j.blog_view()
    elif entry == "partner":
        j.touch(
            "form_submit",
            {"form": "partner-referral", "partner": "Northstar RevOps Consulting"},
            j.world.campaign_on("partner", j.now.date()),
        )


_COLD_ENTRIES = _Choice(
    [
        ("blog", 35),
        ("home", 15),
        ("newsletter", 12),
        ("email", 20),
        ("download", 10),
        ("event", 5),
        ("webinar", 3),
    ]
)
_WARM_ENTRIES = _Choice(
    [("download", 45), ("webinar", 28), ("event", 14), ("blog", 12), ("partner", 5)]
)
_HOT_ENTRIES = _Choice(
    [
        ("download", 25),
        ("webinar", 15),
        ("blog", 15),
        ("pricing", 20),
        ("home", 15),
        ("partner", 5),
        ("event", 10),
    ]
)


def _journey_cold(j: _Journey, *, student: bool) -> None:
    """1-4 touchpoints: e-mail opens, a blog or home page visit, rarely a click."""
    _entry(j, _COLD_ENTRIES)
    for _ in range(j.rng.randint(0, 3)):
        if not j.later(1, 20):
            return
        roll = j.rng.random()
        if roll < 0.6:
            j.email(click=0.12)
        elif roll < 0.85:
            j.blog_view()
        else:
            j.page_view("/", _HOME_CAMPAIGNS)
    if student and j.rng.random() < 0.35 and j.later(1, 10):
        j.move(Stage.DISQUALIFIED, "Student")
    elif j.bounced and j.rng.random() < 0.4 and j.later(0, 7):
        j.move(Stage.DISQUALIFIED, "Bad contact data: e-mail bounced")


def _journey_job_seeker(j: _Journey) -> None:
    """Careers pages: a person looking for a job, not a buyer."""
    j.page_view(j.rng.choice(_CAREER_PAGES))
    for _ in range(j.rng.randint(1, 3)):
        if not j.later(0, 12):
            return
        j.page_view(j.rng.choice((*_CAREER_PAGES[1:], "/about")))
    if j.rng.random() < 0.4 and j.later(1, 10):
        j.move(Stage.DISQUALIFIED, "Job seeker, not a buyer")


def _journey_warm(j: _Journey, *, student: bool) -> None:
    """Content, webinars, clicks and one pricing view; a few reach MQL."""
    _entry(j, _WARM_ENTRIES)
    for _ in range(j.rng.randint(2, 6)):
        if not j.later(1, 12):
            return
        roll = j.rng.random()
        if roll < 0.35:
            j.email(click=0.35)
        elif roll < 0.5:
            j.download()
        elif roll < 0.62:
            if not j.webinar():
                j.blog_view()
        elif roll < 0.8:
            j.product_view()
        else:
            j.blog_view()
    if not j.pricing_seen and j.rng.random() < 0.7 and j.later(0, 10):
        j.pricing_view()
    # Most warm leads qualify in the end: with the hot ones, some 15-25 per
    # cent of all leads become MQLs, as in a B2B funnel.
    roll = j.rng.random()
    if roll < 0.6 and j.soon(5, 240):
        j.move(Stage.MQL)
        _sales_funnel(j, accept=0.78, student=student, recycle=True)
    elif roll < 0.68 and j.later(3, 20):
        j.move(Stage.NURTURE, "Early research, not ready to talk to sales")


def _journey_hot(j: _Journey, *, student: bool) -> None:
    """Repeated pricing views, a demo request or trial, then the sales funnel."""
    _entry(j, _HOT_ENTRIES)
    for _ in range(j.rng.randint(1, 3)):
        if j.later(0, 6):
            if j.rng.random() < 0.7:
                j.product_view()
            else:
                j.blog_view()
    for _ in range(j.rng.randint(2, 4)):
        if j.later(0, 5):
            j.pricing_view()
            if j.rng.random() < 0.3 and j.soon(1, 8):
                j.product_view()
    if j.rng.random() < 0.3 and j.later(0, 4):
        j.email(click=0.6)
    if j.rng.random() < 0.4 and j.soon(1, 10):
        j.touch("chat", {"topic": j.rng.choice(_CHAT_TOPICS)})
    if not j.soon(2, 30):
        return
    j.high_intent()
    # Scoring notices the high-intent touchpoint within minutes to hours.
    if j.soon(5, 90):
        j.move(Stage.MQL)
        _sales_funnel(j, accept=0.85, student=student, recycle=True)
