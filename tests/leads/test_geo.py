"""Countries and their names as people read them."""

from __future__ import annotations

import pycountry
import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from leads.geo import (
    COUNTRY_ALIASES,
    COUNTRY_REGION,
    KNOWN_COUNTRIES,
    country_from_text,
    country_name,
    country_names,
    region_for_country,
)


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

    assert set(names) == KNOWN_COUNTRIES
    assert all(name != code for code, name in names.items())


def test_every_country_of_iso_3166_is_known_and_all_but_antarctica_has_a_region():
    iso = {country.alpha_2 for country in pycountry.countries}

    assert iso | {"XK"} == KNOWN_COUNTRIES
    assert len(KNOWN_COUNTRIES) == 250
    assert KNOWN_COUNTRIES - set(COUNTRY_REGION) == {"AQ"}
    assert set(COUNTRY_REGION) <= KNOWN_COUNTRIES
    assert region_for_country("AQ") == ""


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("deu", "DE"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("  GERMANY  ", "DE"),
        ("United States of America", "US"),
        ("United States", "US"),
        ("USA", "US"),
        ("us", "US"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("North Korea", "KP"),
        ("Türkiye", "TR"),
        ("turkiye", "TR"),
        ("Turkey", "TR"),
        ("Viet Nam", "VN"),
        ("Vietnam", "VN"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Russian Federation", "RU"),
        ("Russia", "RU"),
        ("Iran, Islamic Republic of", "IR"),
        ("Iran", "IR"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d\u2019Ivoire", "CI"),
        ("Ivory Coast", "CI"),
        ("the Netherlands", "NL"),
        ("Holland", "NL"),
        ("Bolivia, Plurinational State of", "BO"),
        ("Taiwan", "TW"),
        ("Hong Kong", "HK"),
        ("Myanmar (Burma)", "MM"),
        ("Burma", "MM"),
        ("Kosovo", "XK"),
        ("XK", "XK"),
        ("Antarctica", "AQ"),
        ("Democratic Republic of the Congo", "CD"),
        ("Congo", "CG"),
        ("Deutschland", "DE"),
        ("UAE", "AE"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_a_country_is_read_from_its_code_or_english_name(text, code):
    assert country_from_text(text) == code


@pytest.mark.parametrize(
    "text", ["Atlantis", "XX", "ZZZ", "Germany!!1", "Europe", "n/a", "Unknown"]
)
def test_text_naming_no_country_is_not_read(text):
    assert country_from_text(text) is None


def test_every_alias_is_needed_and_agrees_with_the_libraries(monkeypatch):
    from leads import geo

    monkeypatch.setattr(geo, "COUNTRY_ALIASES", {})
    geo._names_index.cache_clear()
    try:
        libraries = geo._names_index()
    finally:
        monkeypatch.undo()
        geo._names_index.cache_clear()

    for alias, code in COUNTRY_ALIASES.items():
        assert code in KNOWN_COUNTRIES
        assert geo._name_key(alias) not in libraries, alias
        assert country_from_text(alias) == code


@given(st.sampled_from(sorted(KNOWN_COUNTRIES - {"XK"})), st.booleans())
def test_every_iso_country_reads_back_from_its_codes_and_names(code, lower):
    country = pycountry.countries.get(alpha_2=code)
    texts = [code, country.alpha_3, country.name, country_name(code)]
    texts += [
        getattr(country, a)
        for a in ("official_name", "common_name")
        if hasattr(country, a)
    ]

    for text in texts:
        assert country_from_text(text.lower() if lower else f" {text.upper()} ") == code


def test_the_template_filter_shows_the_name():
    template = Template(
        "{% load leads_tags %}[{{ a|country_name }}][{{ b|country_name }}]"
    )

    assert template.render(Context({"a": "FR", "b": None})) == "[France][]"


@given(st.text(max_size=60))
def test_any_text_reads_as_blank_a_known_country_or_none(text):
    code = country_from_text(text)

    if not text.strip():
        assert code == ""
    else:
        assert code is None or code in KNOWN_COUNTRIES
