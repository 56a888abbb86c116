"""``manage.py bench_suggestion``: suggested points on a HubSpot-style export.

Builds a contact export and an activity export the way HubSpot writes them
(its column names, countries as names and codes, employee counts as free-text
ranges, free-form custom properties, blanks, its activity words and page
URLs under "Page URL") with known effects on who reaches SQL and who becomes
a customer, imports both through the import path of ``import_leads --preset
hubspot --keep-unmapped`` and ``import_touchpoints --preset hubspot
--keep-unmapped``, then, for each outcome, fits a suggestion through
``model_suggest`` (the service behind ``suggest_model``) and compares, on the
same time-ordered test leads, its ROC AUC with the active model's and with a
plain logistic regression's on the same columns (every value one-hot, every
touchpoint kind and page counted, as seen when the suggestion scores them),
with the 95% interval of the suggestion's AUC minus the plain one's (a
paired bootstrap of the test leads).

Everything runs inside one transaction rolled back at the end: the imported
leads, touchpoints, jobs and the drafts leave no row behind, so it can run on
a real database (nothing is enqueued: on-commit tasks never fire).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from leads.imports.jobs import import_job_create
from leads.imports.presets import HUBSPOT
from leads.imports.run import import_job_run
from leads.models import ImportJob, Lead, Touchpoint
from scoring.bulk import chunk_leads
from scoring.exceptions import SuggestionRefused
from scoring.selectors import model_spec
from scoring.services.suggestions import model_suggest
from scoring.suggestion import (
    EMPLOYEE_BANDS,
    TRAIN_SHARE,
    activity_end,
    auc,
    cut_off_time,
    population_read,
    scores_evaluate,
)

#: Days over which the contacts were created, ending at the cut-off.
CREATION_DAYS = 300
#: The cut-off lies this many days before today, so the latest leads had time.
CUT_OFF_AGO_DAYS = 45
#: Resamples of the paired bootstrap of the AUC difference.
BOOTSTRAP_ROUNDS = 1000
#: Fewest training leads a value must have to be a column of the plain fit.
PLAIN_MIN_COUNT = 5

FIRST_NAMES = "Ada Ben Chloe Dev Emma Felix Grace Hugo Ines Jonas Kira Liam Mia Noah "
FIRST_NAMES += "Olga Priya Quinn Ravi Sara Tom Uma Victor Wen Yusuf Zoe"
LAST_NAMES = "Smith Müller Rossi García Nakamura Okafor Dubois Kowalski Silva Chen "
LAST_NAMES += "Johansson Novak Patel Haddad Schmidt O'Brien Larsen Costa Ivanova"
#: (how the export writes it, weight): names and ISO codes, some blank.
COUNTRIES = [
    ("United States", 20),
    ("US", 8),
    ("USA", 3),
    ("Germany", 8),
    ("DE", 4),
    ("United Kingdom", 7),
    ("GB", 3),
    ("France", 5),
    ("India", 6),
    ("Brazil", 5),
    ("BR", 2),
    ("Mexico", 3),
    ("Australia", 3),
    ("Canada", 4),
    ("", 6),
]
#: (job title, seniority effect on reaching SQL).
TITLES = [
    ("Chief Revenue Officer", 0.9),
    ("CEO", 0.7),
    ("VP Marketing", 0.9),
    ("VP of Sales", 0.9),
    ("Head of Growth", 0.8),
    ("Director of Marketing", 0.7),
    ("Director, Sales Operations", 0.7),
    ("Marketing Manager", 0.2),
    ("Sales Manager", 0.2),
    ("RevOps Manager", 0.3),
    ("Marketing Specialist", -0.2),
    ("Software Engineer", -0.3),
    ("Data Analyst", -0.1),
    ("Account Executive", 0.0),
    ("Marketing Intern", -1.2),
    ("Student", -1.4),
    ("", -0.2),
]
INDUSTRIES = [
    "Computer Software",
    "Information Technology and Services",
    "Financial Services",
    "Hospital & Health Care",
    "Retail",
    "Marketing and Advertising",
    "Higher Education",
    "Manufacturing",
    "Logistics and Supply Chain",
    "",
]
#: (free text of "Number of Employees", effect on SQL, on customer).
EMPLOYEES = [
    ("1-10", -0.5, -0.6),
    ("2 to 10", -0.5, -0.6),
    ("11-50", -0.1, -0.2),
    ("51-200", 0.2, 0.2),
    ("201-500", 0.4, 0.6),
    ("501-1000", 0.4, 0.7),
    ("1,001-5,000", 0.3, 0.7),
    ("5000+", 0.1, 0.3),
    ("", 0.0, 0.0),
]
SOURCES = [
    "ORGANIC_SEARCH",
    "Organic Search",
    "PAID_SEARCH",
    "Paid Social",
    "EMAIL_MARKETING",
    "REFERRALS",
    "Direct Traffic",
    "OFFLINE",
    "Partner webinar",
    "",
]
#: The custom property "Use case": (free text, effect on SQL, on customer).
USE_CASES = [
    ("Revenue operations", 1.1, 0.6),
    ("revenue ops", 1.1, 0.6),
    ("Lead routing", 0.4, 0.2),
    ("Marketing attribution", 0.2, 0.0),
    ("Reporting", 0.0, 0.0),
    ("Personal project", -1.3, -1.0),
    ("just browsing", -0.8, -0.5),
    ("", 0.0, 0.0),
    ("", 0.0, 0.0),
]
LEAD_STATUSES = ["NEW", "OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT", "", ""]
LANGUAGES = ["English", "en", "German", "Spanish", "French", "", ""]
SITE = "https://www.flowmetrics.io"
BLOG = ["/blog/lead-scoring-101", "/blog/mql-vs-sql", "/blog/hiring-sdrs", "/blog/"]
DOCS = ["/docs/api", "/docs/getting-started", "/product/integrations", "/product"]


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights)[0]


def _stamp(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def export_build(
    *, contacts: int, seed: int, until: dt.datetime, now: dt.datetime
) -> tuple[str, str, dict[str, Any]]:
    """The contact export and the activity export (CSV text) and what the
    generator put in them: contacts created over the CREATION_DAYS before
    ``until``, activities up to ``now``.

    Known effects on reaching SQL (a logistic model of what a lead did in its
    first 30 days and of who it is): pricing page views (+0.7 each, up to 3),
    a demo request (+1.6), a webinar attended (+0.5), careers page views
    (-1.2: job seekers), seniority from the job title (+0.9 for VPs and
    chiefs, -1.4 for students), "Use case" (+1.1 for revenue operations,
    -1.3 for a personal project), company size, and a base rate rising over
    time. A customer is an SQL that also started a trial (+1.2) or is a
    larger company, or came for revenue operations. An SQL is qualified a few
    days after the last of those first 30 days' events, and the rep's calls
    and a meeting follow; the export gives the day it became an SQL and a
    customer ("Became a ... Date", blank for one in ten).
    """
    rng = random.Random(seed)
    first_names, last_names = FIRST_NAMES.split(), LAST_NAMES.split()
    leads_out, acts_out = io.StringIO(), io.StringIO()
    leads_csv = csv.writer(leads_out)
    acts_csv = csv.writer(acts_out)
    leads_csv.writerow(
        [
            "Record ID",
            "First Name",
            "Last Name",
            "Email",
            "Phone Number",
            "Job Title",
            "Company Name",
            "Company Domain Name",
            "Industry",
            "Number of Employees",
            "Country/Region",
            "Lifecycle Stage",
            "Lead Status",
            "Original Source",
            "Create Date",
            "Became a Sales Qualified Lead Date",
            "Became a Customer Date",
            "Use case",
            "Preferred language",
            "How did you hear about us?",
        ]
    )
    acts_csv.writerow(
        ["Email", "Activity Type", "Activity Date", "Page URL", "Email Campaign"]
    )
    start = until - dt.timedelta(days=CREATION_DAYS)
    created_days = sorted(rng.random() * CREATION_DAYS for _ in range(contacts))
    counts: Counter[str] = Counter()
    companies = [f"Company {n}" for n in range(max(contacts // 4, 10))]
    for index, days in enumerate(created_days):
        created = start + dt.timedelta(days=days)
        first, last = rng.choice(first_names), rng.choice(last_names)
        company = rng.choice(companies)
        domain = company.lower().replace(" ", "") + ".com"
        email = f"{first.lower()}.{index}@{domain}"
        title, seniority_effect = rng.choice(TITLES)
        employees, size_sql, size_customer = rng.choice(EMPLOYEES)
        use_case, use_sql, use_customer = rng.choice(USE_CASES)
        intent = rng.gauss(0.0, 1.0) + 0.4 * seniority_effect
        # What the lead does in its first 45 days.
        pricing = min(_poisson(rng, math.exp(intent - 0.6)), 6)
        demo = rng.random() < 1 / (1 + math.exp(-(intent * 1.3 - 2.2)))
        webinar = rng.random() < 0.15
        trial = rng.random() < 1 / (1 + math.exp(-(intent - 1.5)))
        careers = _poisson(
            rng, 0.5 if title in ("Student", "Software Engineer") else 0.1
        )
        browsing = _poisson(rng, 3.0)
        opens = _poisson(rng, 2.5)
        events: list[tuple[float, str, str, str]] = []
        for _ in range(pricing):
            events.append((rng.random() * 40, "PAGE_VIEW", f"{SITE}/pricing", ""))
        for _ in range(careers):
            events.append(
                (rng.random() * 40, "Page Viewed", f"{SITE}/careers/open-roles", "")
            )
        for _ in range(browsing):
            path = rng.choice(BLOG + DOCS)
            query = rng.choice(["", "", "?utm_source=google", "?hsCtaTracking=1"])
            events.append((rng.random() * 45, "PAGE_VIEW", SITE + path + query, ""))
        for _ in range(opens):
            events.append(
                (
                    rng.random() * 45,
                    rng.choice(["EMAIL_OPEN", "Email Opened"]),
                    "",
                    "Nurture Q" + rng.choice("1234"),
                )
            )
            if rng.random() < 0.3:
                events.append((rng.random() * 45, "EMAIL_CLICK", "", "Nurture"))
        if rng.random() < 0.5:
            events.append((rng.random() * 3, "FORM_SUBMISSION", f"{SITE}/ebook", ""))
        if rng.random() < 0.4:
            events.append((rng.random() * 40, "Email Sent", "", "Sequence"))
        if demo:
            word = rng.choice(["Demo Requested", "Meeting Booked"])
            events.append((rng.random() * 30, word, f"{SITE}/demo", ""))
        if webinar:
            events.append((rng.random() * 30, "Webinar Attended", "", "Webinar"))
        if trial:
            events.append((rng.random() * 30, "Trial Started", f"{SITE}/signup", ""))
        seen = [e for e in events if e[0] < 30]
        logit = (
            -3.0
            + 0.7 * min(sum(1 for e in seen if e[2].endswith("/pricing")), 3)
            + 1.6 * any(e[1] in ("Demo Requested", "Meeting Booked") for e in seen)
            + 0.5 * any(e[1] == "Webinar Attended" for e in seen)
            - 1.2 * any("/careers" in e[2] for e in seen)
            + seniority_effect
            + use_sql
            + size_sql
            + 0.6 * days / CREATION_DAYS
        )
        sql = rng.random() < 1 / (1 + math.exp(-logit))
        customer = False
        sql_day = customer_day = None
        if sql:
            customer_logit = (
                -1.6
                + 1.2 * any(e[1] == "Trial Started" for e in seen)
                + size_customer
                + use_customer
            )
            customer = rng.random() < 1 / (1 + math.exp(-customer_logit))
            # Qualified a few days after what decided it (the last of the
            # first 30 days' events); the rep's calls and meetings follow.
            sql_day = max((e[0] for e in seen), default=0.0) + 1 + rng.random() * 10
            for _ in range(rng.randint(1, 3)):
                events.append((sql_day + rng.random() * 20, "CALL", "", ""))
            events.append((sql_day + 1 + rng.random() * 25, "MEETING", "", ""))
            if customer:
                customer_day = sql_day + 20 + rng.random() * 60
                if created + dt.timedelta(days=customer_day) >= now:
                    customer, customer_day = False, None  # not won yet
        if customer:
            stage = "customer"
        elif sql:
            stage = rng.choice(["salesqualifiedlead", "opportunity", "Opportunity"])
        else:
            stage = rng.choice(
                ["subscriber", "lead", "lead", "marketingqualifiedlead", "other", ""]
            )
        counts["sql"] += sql
        counts["customer"] += customer
        leads_csv.writerow(
            [
                10_000 + index,
                first,
                last if rng.random() > 0.05 else "",
                email,
                f"+1 555 {rng.randint(1000000, 9999999)}" if rng.random() < 0.6 else "",
                title,
                company,
                domain if rng.random() < 0.8 else "",
                rng.choice(INDUSTRIES),
                employees,
                _pick(rng, COUNTRIES),
                stage,
                rng.choice(LEAD_STATUSES),
                rng.choice(SOURCES),
                _stamp(created),
                # Some exports lose a stage's date (set by hand, migrated).
                _day_stamp(created, sql_day, rng),
                _day_stamp(created, customer_day, rng),
                use_case,
                rng.choice(LANGUAGES),
                rng.choice(["Google", "a friend", "LinkedIn ad", "podcast", "", ""]),
            ]
        )
        for offset, word, url, campaign in sorted(events):
            moment = created + dt.timedelta(days=offset)
            if moment >= now:
                continue
            acts_csv.writerow([email, word, _stamp(moment), url, campaign])
            counts["activities"] += 1
    return leads_out.getvalue(), acts_out.getvalue(), dict(counts)


def _day_stamp(created: dt.datetime, day: float | None, rng: random.Random) -> str:
    """When a stage was reached, ``day`` days after ``created``, as the export
    writes it; blank for one in ten (and when it was not reached)."""
    if day is None or rng.random() < 0.1:
        return ""
    return _stamp(created + dt.timedelta(days=day))


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def _import(kind: str, filename: str, content: str) -> ImportJob:
    """Import ``content`` as ``import_leads``/``import_touchpoints --preset
    hubspot --keep-unmapped`` do: create the job, then run it here."""
    job = import_job_create(
        kind=kind,
        filename=filename,
        content=content.encode("utf-8"),
        preset=HUBSPOT,
        keep_unmapped=True,
        enqueue=False,
    )
    return import_job_run(job_id=job.id) or job


def _band(employees: int | None) -> str:
    if employees is None:
        return ""
    for low, high in EMPLOYEE_BANDS:
        if employees >= low and (high is None or employees <= high):
            return f"{low}-{high or ''}"
    return ""


def _page(value: Any) -> str:
    """The first path segment of a URL-valued property, "" for another value."""
    if not isinstance(value, str) or "://" not in value:
        return ""
    segment = urlsplit(value).path.strip("/").split("/")[0]
    return f"/{segment}" if segment else "/"


def plain_scores(*, outcome: str, until: dt.datetime) -> list[float]:
    """The scores of the test leads (in the suggestion's order) by a plain
    logistic regression fitted on the training leads (the suggestion's
    split): every field and attribute value one-hot (values of at least
    PLAIN_MIN_COUNT training leads), the company size band, and the log of
    the count of every touchpoint kind and every page visited before the
    lead is scored (what the suggestion counts: until it is scored, and
    before it reached the outcome)."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import MaxAbsScaler

    population = population_read(outcome=outcome, until=until)
    rows: dict[int, Counter[str]] = {lead_id: Counter() for lead_id in population.ids}
    fields = Lead.objects.filter(id__in=population.ids).values_list(
        "id",
        "country",
        "region",
        "seniority",
        "department",
        "source",
        "account__industry",
        "account__employee_count",
        "attributes",
    )
    for lead_id, *values, employees, attributes in fields:
        features = rows[lead_id]
        for name, value in zip(
            ("country", "region", "seniority", "department", "source", "industry"),
            values,
            strict=True,
        ):
            features[f"{name}={value or ''}"] = 1
        features[f"employees={_band(employees)}"] = 1
        for key, value in (attributes or {}).items():
            features[f"attribute {key}={str(value).strip().lower()}"] = 1
    touches = Touchpoint.objects.filter(lead_id__in=population.ids).values_list(
        "lead_id", "kind_id", "occurred_at", "properties"
    )
    for lead_id, kind, occurred_at, properties in touches.iterator(chunk_size=5000):
        end = activity_end(population, lead_id)
        if occurred_at >= population.seen_at[lead_id] or (end and occurred_at >= end):
            continue
        features = rows[lead_id]
        features[f"kind {kind}"] += 1
        for value in (properties or {}).values():
            page = _page(value)
            if page:
                features[f"page {page}"] += 1
    train_ids, test_ids = population.train_ids, population.test_ids
    seen: Counter[str] = Counter()
    for lead_id in train_ids:
        seen.update(rows[lead_id].keys())
    columns = {
        name: n
        for n, name in enumerate(
            sorted(name for name, count in seen.items() if count >= PLAIN_MIN_COUNT)
        )
    }

    def matrix(ids: list[int]) -> Any:
        data, indices, pointers = [], [], [0]
        for lead_id in ids:
            for name, value in rows[lead_id].items():
                if name in columns:
                    indices.append(columns[name])
                    data.append(math.log1p(value))
            pointers.append(len(indices))
        return sparse.csr_matrix(
            (data, indices, pointers), shape=(len(ids), len(columns))
        )

    scaler = MaxAbsScaler()
    train_x = scaler.fit_transform(matrix(train_ids))
    test_x = scaler.transform(matrix(test_ids))
    regression = LogisticRegression(max_iter=2000)
    regression.fit(train_x, population.outcomes[: population.train])
    return [float(s) for s in regression.decision_function(test_x)]


def suggested_scores(*, model: Any, outcome: str, until: dt.datetime) -> list[float]:
    """The scores of the test leads (in the suggestion's order) by the draft
    ``model``, as ``model_suggest`` scored them for its AUC."""
    population = population_read(outcome=outcome, until=until)
    for row in chunk_leads(low=min(population.ids), high=max(population.ids) + 1):
        population.rows[row["id"]] = row
    scored = scores_evaluate(
        spec=model_spec(model), population=population, lead_ids=population.test_ids
    )
    return [float(scored[i].total) for i in population.test_ids]


def difference_interval(
    outcomes: list[int], first: list[float], second: list[float], *, seed: int
) -> tuple[float, float]:
    """The 95% interval of AUC(first) - AUC(second) on the same leads, by a
    paired bootstrap (BOOTSTRAP_ROUNDS resamples of the leads, seeded)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    y, a, b = np.array(outcomes), np.array(first), np.array(second)
    differences = []
    while len(differences) < BOOTSTRAP_ROUNDS:
        pick = rng.integers(0, len(y), len(y))
        if y[pick].min() == y[pick].max():
            continue
        differences.append(
            roc_auc_score(y[pick], a[pick]) - roc_auc_score(y[pick], b[pick])
        )
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(low), float(high)


class _RollBack(Exception):
    """Raised to undo the bench's transaction once the figures are taken."""


def run(options: dict[str, Any], *, say: Callable[[str], None]) -> dict[str, Any]:
    """Build, import, fit and compare; print the figures, the last line JSON."""
    now = timezone.now()
    until = cut_off_time(now.date() - dt.timedelta(days=CUT_OFF_AGO_DAYS))
    started = time.monotonic()
    leads_text, acts_text, made = export_build(
        contacts=options["contacts"], seed=options["seed"], until=until, now=now
    )
    say(
        f"Export of {options['contacts']:,} contacts ({made.get('sql', 0):,} SQL, "
        f"{made.get('customer', 0):,} customers) and {made.get('activities', 0):,} "
        f"activities built in {time.monotonic() - started:.1f} s."
    )
    report: dict[str, Any] = {
        "contacts": options["contacts"],
        "seed": options["seed"],
        "until": f"{until:%Y-%m-%d}",
        "train_share": TRAIN_SHARE,
    }
    try:
        with transaction.atomic():
            for kind, name, text in (
                (ImportJob.Kind.LEADS, "hubspot-contacts.csv", leads_text),
                (ImportJob.Kind.TOUCHPOINTS, "hubspot-activities.csv", acts_text),
            ):
                job = _import(kind, name, text)
                say(
                    f"Imported {name}: {job.rows_created:,} created, "
                    f"{job.rows_rejected:,} rejected, {job.cells_refused:,} cells "
                    f"refused ({job.status})."
                )
                report[f"{kind}_created"] = job.rows_created
                report[f"{kind}_rejected"] = job.rows_rejected
            for outcome in ("sql", "customer"):
                try:
                    result = model_suggest(
                        outcome=outcome,
                        until=until,
                        name=f"Bench suggestion {outcome}",
                    )
                except SuggestionRefused as exc:
                    # Too small an export for this outcome: say so, go on.
                    report[outcome] = {"refused": str(exc)}
                    say(f"{outcome}: refused: {exc}")
                    continue
                plain_test = plain_scores(outcome=outcome, until=until)
                test_outcomes = population_read(outcome=outcome, until=until).outcomes[
                    -len(plain_test) :
                ]
                plain = auc(test_outcomes, plain_test)
                low, high = difference_interval(
                    test_outcomes,
                    suggested_scores(model=result.model, outcome=outcome, until=until),
                    plain_test,
                    seed=options["seed"],
                )
                rules = [
                    {"label": rule.label, "points": int(rule.points)}
                    for rule in result.model.rules.order_by("-points", "label")
                ]
                report[outcome] = {
                    "train_leads": result.train_leads,
                    "test_leads": result.test_leads,
                    "auc_suggested": round(result.auc_suggested, 4),
                    "auc_active": None
                    if result.auc_active is None
                    else round(result.auc_active, 4),
                    "auc_plain": round(plain, 4),
                    "suggested_minus_plain_95": [round(low, 4), round(high, 4)],
                    "rules": rules,
                }
                say(
                    f"{outcome}: AUC suggested {result.auc_suggested:.3f}, active "
                    f"{result.auc_active or 0:.3f}, plain regression {plain:.3f} "
                    f"({result.test_leads:,} test leads); suggested minus plain: "
                    f"95% interval {low:+.3f} to {high:+.3f}"
                )
                for rule in rules:
                    say(f"  {rule['points']:+d}  {rule['label']}")
            raise _RollBack
    except _RollBack:
        pass
    report["seconds"] = round(time.monotonic() - started, 1)
    say(json.dumps(report))
    return report
