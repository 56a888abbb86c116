"""Countries and their names as people read them."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from leads.geo import COUNTRY_REGION, country_name, country_names


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("DE", "Germany"),
        ("us", "United States"),
        ("KR", "South Korea"),
        ("CI", "C\u00f4te d\u2019Ivoire"),
        ("XK", "Kosovo"),
        ("ZZ", "ZZ"),
        ("", ""),
    ],
)
def test_a_country_code_reads_as_its_name(code, name):
    assert country_name(code) == name


def test_every_accepted_country_has_a_name_of_its_own():
    names = country_names()

    assert set(names) == set(COUNTRY_REGION)
    assert all(name != code for code, name in names.items())


def test_the_template_filter_shows_the_name():
    template = Template(
        "{% load leads_tags %}[{{ a|country_name }}][{{ b|country_name }}]"
    )

    assert template.render(Context({"a": "FR", "b": None})) == "[France][]"
