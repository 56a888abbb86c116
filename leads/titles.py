"""Derive a lead's seniority and department from a free-text job title.

Pure functions over strings, so imports, the API and the demo seeder classify
titles the same way. The patterns are checked in order; the first match wins.
"""

from __future__ import annotations

import re

from django.db import models


class Seniority(models.TextChoices):
    EXECUTIVE = "executive", "Executive (C-level, founder)"
    VP = "vp", "Vice president"
    DIRECTOR = "director", "Director / head of"
    MANAGER = "manager", "Manager"
    INDIVIDUAL = "individual", "Individual contributor"
    ENTRY = "entry", "Entry level / intern"
    STUDENT = "student", "Student"
    UNKNOWN = "unknown", "Unknown"


class Department(models.TextChoices):
    EXECUTIVE = "executive", "Executive"
    ENGINEERING = "engineering", "Engineering"
    IT = "it", "IT & security"
    PRODUCT = "product", "Product"
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    CUSTOMER_SUCCESS = "customer_success", "Customer success & support"
    FINANCE = "finance", "Finance"
    HR = "hr", "HR & people"
    OPERATIONS = "operations", "Operations"
    LEGAL = "legal", "Legal"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


def _rx(*words: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


# "Vice president" must be tested before "president", students before anything.
_SENIORITY_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        _rx(r"students?", "undergraduate", r"phd candidate", "graduate student"),
        Seniority.STUDENT,
    ),
    (
        _rx(r"interns?", "internship", "trainee", "apprentice", "working student"),
        Seniority.ENTRY,
    ),
    (_rx("vp", "svp", "evp", "avp", r"vice[- ]president"), Seniority.VP),
    (
        _rx(
            "chief",
            "ceo",
            "cto",
            "cfo",
            "coo",
            "cmo",
            "cio",
            "ciso",
            "cro",
            "cpo",
            "cdo",
            r"co-?founder",
            "founder",
            r"(?<!product )owner",
            "president",
            r"managing director",
            "general manager",
            "managing partner",
            "partner",
        ),
        Seniority.EXECUTIVE,
    ),
    (_rx("director", r"head of", "head"), Seniority.DIRECTOR),
    (_rx("manager", "mgr", r"team lead", "supervisor", "lead"), Seniority.MANAGER),
    (_rx("junior", "jr", "graduate", "assistant", "entry level"), Seniority.ENTRY),
]

_DEPARTMENT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        _rx(
            "marketing",
            "cmo",
            "brand",
            "growth",
            r"demand gen\w*",
            "content",
            "seo",
            "communications",
            "pr",
        ),
        Department.MARKETING,
    ),
    (
        _rx(
            "sales",
            "account executive",
            "business development",
            "cro",
            "sdr",
            "bdr",
            "revenue",
            "account manager",
        ),
        Department.SALES,
    ),
    (
        _rx("customer success", "support", "customer experience", "onboarding"),
        Department.CUSTOMER_SUCCESS,
    ),
    (
        _rx(
            "cio",
            "ciso",
            "chief information officer",
            "chief information security officer",
            "it",
            "information technology",
            "security",
            r"systems? administrator",
            "infrastructure",
            "network",
        ),
        Department.IT,
    ),
    (
        _rx(
            "cto",
            "chief technology officer",
            "technology",
            r"engineer\w*",
            "developer",
            "software",
            "devops",
            "architect",
            "sre",
            "data scientist",
            "programmer",
        ),
        Department.ENGINEERING,
    ),
    (
        _rx("cpo", "chief product officer", "product", "ux", "designer"),
        Department.PRODUCT,
    ),
    (
        _rx(
            "cfo",
            "finance",
            "financial",
            "accountant",
            "accounting",
            "controller",
            "procurement",
            "purchasing",
        ),
        Department.FINANCE,
    ),
    (
        _rx("hr", "human resources", "people", "talent", "recruiter", "recruiting"),
        Department.HR,
    ),
    (
        _rx(
            "coo", "chief operating officer", "operations", "supply chain", "logistics"
        ),
        Department.OPERATIONS,
    ),
    (_rx("legal", "counsel", "lawyer", "attorney", "compliance"), Department.LEGAL),
    # Executive last: a function word ("of Sales") says more than the level.
    (
        _rx(
            "ceo",
            "chief executive officer",
            "founder",
            r"co-?founder",
            "owner",
            "president",
            "managing director",
            "general manager",
            "managing partner",
        ),
        Department.EXECUTIVE,
    ),
]


def seniority_from_title(title: str) -> str:
    """Return the seniority code for a job title.

    A non-empty title with no level word is an individual contributor; a blank
    title is unknown.
    """
    text = (title or "").strip().lower()
    if not text:
        return Seniority.UNKNOWN
    for pattern, seniority in _SENIORITY_PATTERNS:
        if pattern.search(text):
            return seniority
    return Seniority.INDIVIDUAL


def department_from_title(title: str) -> str:
    """Return the department code for a job title ("unknown" when blank)."""
    text = (title or "").strip().lower()
    if not text:
        return Department.UNKNOWN
    for pattern, department in _DEPARTMENT_PATTERNS:
        if pattern.search(text):
            return department
    return Department.OTHER
