"""Lead creation: e-mail normalisation, derived fields, account matching."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from leads.accounts import (
    account_for_email,
    account_match_domain,
    account_upsert,
    name_from_domain,
)
from leads.emails import normalize_email
from leads.exceptions import LeadAlreadyExists
from leads.models import Account, Lead
from leads.services import lead_create, lead_fill_blanks, lead_update
from tests.factories import AccountFactory, LeadFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.Lovelace@Example.COM ", "Ada.Lovelace@example.com"),
        ("x+tag@Sub.Acme.IO", "x+tag@sub.acme.io"),
    ],
)
def test_normalize_email_trims_and_lowercases_the_domain(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["", "ada", "ada@", "@example.com", "a b@example.com"])
def test_normalize_email_refuses_what_is_not_an_address(raw):
    with pytest.raises(ValidationError, match="Enter a valid e-mail address"):
        normalize_email(raw)


def test_name_from_domain_is_readable():
    assert name_from_domain("northwind-labs.io") == "Northwind Labs"


@pytest.mark.django_db
def test_lead_create_derives_fields_and_matches_the_account():
    acme = AccountFactory(name="Acme", domain="acme.com")

    lead = lead_create(
        email=" Grace@ACME.com",
        first_name="Grace",
        job_title="VP of Engineering",
        country="de",
        now=T0,
    )

    lead.refresh_from_db()
    assert lead.email == "Grace@acme.com"
    assert (lead.seniority, lead.department) == ("vp", "engineering")
    assert (lead.country, lead.region) == ("DE", "europe")
    assert lead.account == acme
    assert (lead.stage, lead.highest_stage) == ("lead", "lead")
    assert lead.entered_lead_at == T0


@pytest.mark.django_db
def test_lead_on_a_subdomain_joins_the_parent_account():
    acme = AccountFactory(domain="acme.com")
    lead = lead_create(email="ops@eu.acme.com")
    assert lead.account == acme


@pytest.mark.django_db
def test_lead_from_a_new_company_domain_creates_its_account():
    lead = lead_create(email="lin@bluepeak-logistics.com")
    account = Account.objects.get()
    assert lead.account == account
    assert (account.name, account.domain) == (
        "Bluepeak Logistics",
        "bluepeak-logistics.com",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["sam@gmail.com", "sam@Outlook.com", "sam@proton.me"])
def test_free_mail_leads_get_no_account(email):
    lead = lead_create(email=email)
    assert lead.account is None
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_free_mail_domain_never_matches_even_an_existing_account():
    AccountFactory(domain="gmail.com")  # a bad record someone created by hand
    assert account_match_domain("gmail.com") is None
    assert account_for_email("x@gmail.com") is None


@pytest.mark.django_db
def test_seniority_override_wins_over_the_title():
    lead = lead_create(
        email="a@acme.com", job_title="Marketing Manager", seniority_override="director"
    )
    assert lead.seniority == "director"
    lead_update(lead=lead, job_title="Intern")
    lead.refresh_from_db()
    assert lead.seniority == "director"
    lead_update(lead=lead, seniority_override="")
    lead.refresh_from_db()
    assert lead.seniority == "entry"


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["ADA@acme.com", "ada@ACME.COM", " Ada@Acme.com "])
def test_lead_create_refuses_the_same_email_in_another_case(email):
    lead_create(email="ada@acme.com")
    with pytest.raises(LeadAlreadyExists, match="already exists"):
        lead_create(email=email)
    assert Lead.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"country": "XX"}, "country"),
        ({"attributes": [1, 2]}, "attributes"),
        ({"department": "astrology"}, "department"),
        ({"stage": "customer"}, "stage"),
        ({"first_name": "x" * 101}, "first_name"),
    ],
)
def test_lead_create_refuses_bad_fields_and_stores_nothing(fields, field):
    with pytest.raises(ValidationError) as excinfo:
        lead_create(email="new@acme.com", **fields)
    assert field in excinfo.value.message_dict
    assert not Lead.objects.exists()
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_lead_update_does_not_overwrite_a_concurrent_stage_change():
    lead = LeadFactory()
    stale = Lead.objects.get(id=lead.id)
    Lead.objects.filter(id=lead.id).update(stage="mql")  # moved meanwhile

    lead_update(lead=stale, first_name="Grace")

    lead.refresh_from_db()
    assert (lead.first_name, lead.stage) == ("Grace", "mql")


# Filling blanks only (callers with no authenticated user)
# ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lead_fill_blanks_creates_an_unknown_lead_with_what_is_given():
    filled = lead_fill_blanks(
        email="Grace@Navy.example",
        first_name="Grace",
        job_title="VP of Engineering",
        country="us",
        attributes={"company": "Navy Labs"},
        utm_source="google",
        now=T0,
    )

    lead = Lead.objects.get()
    assert (filled.lead.id, filled.created, filled.differs) == (lead.id, True, {})
    assert (lead.email, lead.first_name, lead.seniority) == (
        "Grace@navy.example",
        "Grace",
        "vp",
    )
    assert (lead.country, lead.region, lead.utm_source) == (
        "US",
        "north_america",
        "google",
    )
    assert lead.attributes == {"company": "Navy Labs"}
    assert lead.rescore_requested_at == T0


@pytest.mark.django_db
def test_lead_fill_blanks_fills_only_blanks_and_returns_what_differs():
    lead = LeadFactory(
        email="ada@acme.example",
        first_name="Ada",
        last_name="",
        job_title="Head of Marketing",
        phone="",
        country="GB",
        region="europe",
        utm_medium="email",
        attributes={"company": "Acme", "plan": ""},
    )

    filled = lead_fill_blanks(
        email="ADA@acme.example",
        first_name="Ada",
        last_name="Lovelace",
        job_title="Student",
        phone="  ",
        country="fr",
        utm_source="google",
        attributes={"company": "Evil Corp", "plan": "team", "seats": 5},
        now=T0,
    )

    lead.refresh_from_db()
    assert (filled.lead.id, filled.created) == (lead.id, False)
    assert filled.differs == {
        "job_title": "Student",
        "country": "FR",
        "attributes": {"company": "Evil Corp"},
    }
    assert (lead.first_name, lead.last_name, lead.job_title, lead.phone) == (
        "Ada",
        "Lovelace",
        "Head of Marketing",
        "",
    )
    assert (lead.seniority, lead.country, lead.region) == ("director", "GB", "europe")
    # The UTM keys are the first touch: a lead with one keeps all of its own.
    assert (lead.utm_source, lead.utm_medium) == ("", "email")
    assert lead.attributes == {"company": "Acme", "plan": "team", "seats": 5}


@pytest.mark.django_db
def test_lead_fill_blanks_with_nothing_new_changes_nothing():
    lead = LeadFactory(email="ada@acme.example", first_name="Ada")
    before = Lead.objects.filter(id=lead.id).values().get()

    filled = lead_fill_blanks(email="ada@acme.example", first_name="Eve", now=T0)

    assert filled.differs == {"first_name": "Eve"}
    assert Lead.objects.filter(id=lead.id).values().get() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"owner": None},
        {"account": None},
        {"do_not_email": True},
        {"seniority_override": "executive"},
        {"department": "sales"},
    ],
)
def test_lead_fill_blanks_refuses_fields_a_stranger_may_not_set(fields):
    lead = LeadFactory(email="ada@acme.example", department="")

    with pytest.raises(ValidationError) as excinfo:
        lead_fill_blanks(email="ada@acme.example", **fields)

    assert excinfo.value.message_dict == {
        next(iter(fields)): ["This field cannot be set here."]
    }
    assert Lead.objects.filter(id=lead.id).values().get()["department"] == ""


# Public suffixes never become accounts
# ------------------------------------------------------------------------------

CO_UK_REFUSED = (
    "co.uk is a public suffix shared by many companies; give the company's own "
    "domain, such as example.co.uk."
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "email", ["someone@co.uk", "dev@github.io", "ops@COM.AU", "x@gov.uk"]
)
def test_an_email_at_a_public_suffix_gets_no_account(email):
    lead = lead_create(email=email)

    assert lead.account is None
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_a_subdomain_never_joins_an_account_on_a_public_suffix():
    AccountFactory(name="Co", domain="co.uk")  # an old record made by hand

    first = lead_create(email="ops@eu.acme.co.uk")
    second = lead_create(email="sam@initech.co.uk")

    assert first.account.domain == "eu.acme.co.uk"
    assert second.account.domain == "initech.co.uk"
    assert account_match_domain("co.uk") is None
    assert account_match_domain("acme.co.uk") is None
    assert account_for_email("someone@co.uk") is None
    assert Account.objects.filter(domain="co.uk").get().leads.count() == 0


@pytest.mark.django_db
def test_a_subdomain_joins_its_registrable_domain_under_a_public_suffix():
    acme = AccountFactory(domain="acme.co.uk")

    assert lead_create(email="ops@eu.acme.co.uk").account == acme
    assert account_match_domain("a.b.acme.co.uk") == acme


@pytest.mark.django_db
@pytest.mark.parametrize("domain", ["co.uk", "WWW.co.uk", " Co.UK "])
def test_account_upsert_refuses_a_public_suffix(domain):
    with pytest.raises(ValidationError) as excinfo:
        account_upsert(domain=domain, name="Someone")

    assert excinfo.value.message_dict == {"domain": [CO_UK_REFUSED]}
    assert not Account.objects.exists()


@pytest.mark.django_db
def test_account_upsert_refuses_to_update_an_account_on_a_public_suffix():
    account = AccountFactory(name="Co", domain="co.uk")

    with pytest.raises(ValidationError) as excinfo:
        account_upsert(domain="co.uk", name="Renamed")

    assert excinfo.value.message_dict == {"domain": [CO_UK_REFUSED]}
    account.refresh_from_db()
    assert account.name == "Co"


@pytest.mark.django_db
def test_account_model_validation_refuses_a_public_suffix():
    with pytest.raises(ValidationError) as excinfo:
        Account(name="GitHub pages", domain="github.io").full_clean()

    assert excinfo.value.message_dict == {
        "domain": [
            "github.io is a public suffix shared by many companies; give the "
            "company's own domain, such as example.github.io."
        ]
    }


# Look-alike and IP-literal addresses
# ------------------------------------------------------------------------------

LOOKALIKE = (
    "Type the address with plain characters: it contains look-alike ones (such "
    "as a full-width \uff20 or \uff41) that stand for ordinary letters or signs."
)
IP_DOMAIN = (
    "Use an address at a domain name, such as ada@example.com; addresses at an "
    "IP address are not accepted."
)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("ada\uff20example.com", LOOKALIKE),
        ("ada@\uff45xample.com", LOOKALIKE),
        ("ada@example\uff0ecom", LOOKALIKE),
        ("ada@[127.0.0.1]", IP_DOMAIN),
        ("ada@[IPv6:2001:db8::1]", IP_DOMAIN),
        ("ada@127.0.0.1", IP_DOMAIN),
        (
            "ada@ex\u0430mple.com",
            "ex\u0430mple.com mixes Cyrillic and Latin letters in one name, as "
            "look-alike (homoglyph) domains do; type the domain in one alphabet.",
        ),
        (
            "ada@\u0440aypal.com",
            "\u0440aypal.com mixes Cyrillic and Latin letters in one name, as "
            "look-alike (homoglyph) domains do; type the domain in one alphabet.",
        ),
        (
            "ada@xn--exmple-4nf.com",
            "ex\u0430mple.com mixes Cyrillic and Latin letters in one name, as "
            "look-alike (homoglyph) domains do; type the domain in one alphabet.",
        ),
        (
            "ada@\u03bfpenai.com",
            "\u03bfpenai.com mixes Greek and Latin letters in one name, as "
            "look-alike (homoglyph) domains do; type the domain in one alphabet.",
        ),
        (
            "ada@exa\u200dmple.com",
            "The domain contains U+200D, which is not a letter or digit; type "
            "the plain domain.",
        ),
        (
            "ada@example\u3002com",
            "The domain contains U+3002, which is not a letter or digit; type "
            "the plain domain.",
        ),
    ],
    ids=[
        "fullwidth-at",
        "fullwidth-letter",
        "fullwidth-dot",
        "ipv4-literal",
        "ipv6-literal",
        "bare-ip",
        "cyrillic-a",
        "cyrillic-er",
        "cyrillic-a-as-idna",
        "greek-omicron",
        "zero-width-joiner",
        "ideographic-full-stop",
    ],
)
def test_normalize_email_refuses_look_alike_and_ip_addresses(raw, message):
    with pytest.raises(ValidationError) as excinfo:
        normalize_email(raw)

    assert excinfo.value.messages == [message]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ada@b\u00fccher.de", "ada@xn--bcher-kva.de"),
        ("ada@bu\u0308cher.de", "ada@xn--bcher-kva.de"),  # the same, decomposed
        (
            "ada@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
            "ada@xn--e1afmkfd.xn--p1ai",
        ),
        ("ada@\u041f\u0440\u0438\u043c\u0435\u0440.com", "ada@xn--e1afmkfd.com"),
        ("ada@\u03b1\u03b8\u03b7\u03bd\u03b1.gr", "ada@xn--mxaard0a.gr"),
        ("ada@XN--bcher-kva.de", "ada@xn--bcher-kva.de"),
        (
            "ada@\u65e5\u672c\u8a9e\u30c9\u30e1\u30a4\u30f3.jp",
            "ada@xn--eckwd4c7c5976acvb2w6i.jp",
        ),
    ],
)
def test_normalize_email_keeps_single_script_international_domains(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.django_db
def test_a_homoglyph_address_creates_neither_lead_nor_account():
    with pytest.raises(ValidationError):
        lead_create(email="ada@ex\u0430mple.com")

    assert not Lead.objects.exists()
    assert not Account.objects.exists()
