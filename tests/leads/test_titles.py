"""Seniority and department derived from job titles."""

import pytest

from leads.titles import department_from_title, seniority_from_title


@pytest.mark.parametrize(
    ("title", "seniority", "department"),
    [
        ("CEO", "executive", "executive"),
        ("Chief Executive Officer", "executive", "executive"),
        ("Co-Founder", "executive", "executive"),
        ("Chief Technology Officer", "executive", "engineering"),
        ("Chief Marketing Officer", "executive", "marketing"),
        ("Managing Director", "executive", "executive"),
        ("Vice President of Sales", "vp", "sales"),
        ("SVP, Finance", "vp", "finance"),
        ("Head of Marketing", "director", "marketing"),
        ("IT Director", "director", "it"),
        ("Product Manager", "manager", "product"),
        ("Engineering Team Lead", "manager", "engineering"),
        ("Product Owner", "individual", "product"),
        ("Senior Software Engineer", "individual", "engineering"),
        ("Account Executive", "individual", "sales"),
        ("Executive Assistant", "entry", "other"),
        ("Marketing Intern", "entry", "marketing"),
        ("Junior Accountant", "entry", "finance"),
        ("PhD Student", "student", "other"),
        ("Nurse", "individual", "other"),
        ("", "unknown", "unknown"),
        ("   ", "unknown", "unknown"),
    ],
)
def test_title_classification(title, seniority, department):
    assert seniority_from_title(title) == seniority
    assert department_from_title(title) == department
